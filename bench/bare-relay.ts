// The baseline of the benchmark: a bare Socket.IO relay with the service's wire shape and nothing
// else. No authentication, no validation, no storage: a socket joins the room named in its
// handshake (`auth: { room, userId }`), and `sendMessage` is broadcast to the room's other
// sockets as `newMessage` and acknowledged at once. Same Socket.IO version and server options as
// the service, so "service ÷ relay" is the price of everything the service does per message.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 3100);
const http = createServer((request, response) => {
  response.writeHead(request.url === '/ready' ? 200 : 404).end();
});
const io = new Server(http, { maxHttpBufferSize: 64 * 1024, serveClient: false });
const seqByRoom = new Map();
let counter = 0;

io.on('connection', (socket) => {
  const { room, userId } = socket.handshake.auth ?? {};
  if (typeof room === 'string') socket.join(room);
  socket.on('sendMessage', (payload, ack) => {
    const seq = (seqByRoom.get(room) ?? 0) + 1;
    seqByRoom.set(room, seq);
    const message = {
      messageId: `relay-${++counter}`,
      conversationId: payload?.conversationId,
      senderId: userId,
      text: payload?.text,
      seq,
      timestamp: new Date().toISOString(),
      ...(payload?.clientMessageId ? { clientMessageId: payload.clientMessageId } : {}),
    };
    socket.to(room).emit('newMessage', message);
    if (typeof ack === 'function') ack({ ok: true, data: { message } });
  });
});

http.listen(port, '127.0.0.1');
const stop = () => io.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
