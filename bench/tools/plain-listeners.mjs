// An experiment, not part of the service: preload with
//   node --import ./bench/tools/plain-listeners.mjs dist/main.js
// to bind the gateway's handlers as plain Socket.IO listeners with no rxjs at all: Nest's own
// IoAdapter.bindMessageHandlers builds a pipeline per event per socket (fromEvent → mergeMap →
// defer/filter/map/catchError → takeUntil(disconnect$)), and the service's MessagingIoAdapter
// override (plain listeners) still turns every call into an Observable through Nest's
// `transform` (fromPromise(pickResult(…)).pipe(mergeAll())). Same observable behaviour for this
// gateway, whose handlers all return a Promise of the ack; used to measure what that costs.
import { existsSync } from 'node:fs';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { isObservable, lastValueFrom } from 'rxjs';

function bindMessageHandlers(socket, handlers) {
  for (const { message, callback, isAckHandledManually } of handlers) {
    socket.on(String(message), (...args) => {
      const { data, ack } = this.mapPayload(args.length === 1 ? args[0] : args);
      let result;
      try {
        result = callback(data, ack);
      } catch (error) {
        console.error(error);
        return;
      }
      Promise.resolve(result)
        .then((value) => (isObservable(value) ? lastValueFrom(value, { defaultValue: undefined }) : value))
        .then(
          (response) => {
            if (response === undefined || response === null) return;
            if (response.event) socket.emit(response.event, response.data);
            else if (!isAckHandledManually && typeof ack === 'function') ack(response);
          },
          (error) => console.error(error),
        );
    });
  }
}

IoAdapter.prototype.bindMessageHandlers = bindMessageHandlers;
const own = new URL('../../dist/websocket/messaging-io.adapter.js', import.meta.url);
if (existsSync(own)) {
  const { MessagingIoAdapter } = await import(own.href);
  if (Object.hasOwn(MessagingIoAdapter.prototype, 'bindMessageHandlers')) MessagingIoAdapter.prototype.bindMessageHandlers = bindMessageHandlers;
}
