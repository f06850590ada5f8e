// An experiment, not part of the service: preload (after `npm run build:bench`) with
//   node --import ./bench/dist/tools/no-async-context.js dist/main.js
// to turn AsyncLocalStorage into a pass-through (log lines lose their socket/request ids). On
// Node 20 an active AsyncLocalStorage installs promise hooks that run for every promise in the
// process; this measures what they cost per message. Node ≥ 24 implements AsyncLocalStorage
// without promise hooks (AsyncContextFrame).
import { AsyncLocalStorage } from 'node:async_hooks';

AsyncLocalStorage.prototype.run = function run<R, A extends unknown[]>(_store: unknown, fn: (...args: A) => R, ...args: A): R {
  return fn(...args);
};
AsyncLocalStorage.prototype.enterWith = function enterWith() {};
AsyncLocalStorage.prototype.getStore = function getStore() {
  return undefined;
};
