// An experiment, not part of the service: preload with
//   node --import ./bench/tools/no-async-context.mjs dist/main.js
// to turn AsyncLocalStorage into a pass-through (log lines lose their socket/request ids). On
// Node 20 an active AsyncLocalStorage installs promise hooks that run for every promise in the
// process; this measures what they cost per message. Node ≥ 24 implements AsyncLocalStorage
// without promise hooks (AsyncContextFrame).
import { AsyncLocalStorage } from 'node:async_hooks';

AsyncLocalStorage.prototype.run = function run(_store, fn, ...args) {
  return fn(...args);
};
AsyncLocalStorage.prototype.enterWith = function enterWith() {};
AsyncLocalStorage.prototype.getStore = function getStore() {
  return undefined;
};
