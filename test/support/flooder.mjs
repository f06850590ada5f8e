// A flooding client in a process of its own (test/support/scenarios/flood.ts starts it under `nice`,
// so that its own CPU does not slow the clients whose latency is measured): one socket that sends
// `sendMessage` and `startTyping` at the asked rates while flooding is on. It prints {"ready":true}
// once connected; SIGUSR1 turns flooding on or off; SIGUSR2 makes it wait for the last answers,
// print what the service answered as one JSON line, and exit.
//
// Environment: URL, TOKEN, CONVERSATION_ID, MESSAGES_PER_SECOND, TYPING_PER_SECOND.
import { io } from 'socket.io-client';

const { URL: url, TOKEN: token, CONVERSATION_ID: conversationId } = process.env;
const messagesPerSecond = Number(process.env.MESSAGES_PER_SECOND);
const typingPerSecond = Number(process.env.TYPING_PER_SECOND);

const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
await new Promise((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('connect_error', reject);
});

const outcomes = { sendMessage: {}, startTyping: {} };
let unanswered = 0;
const pending = new Set();
const emit = (event, payload) => {
  const answer = socket
    .timeout(5000)
    .emitWithAck(event, payload)
    .then(
      (result) => {
        const key = result?.ok ? 'ok' : (result?.error?.code ?? 'malformed');
        outcomes[event][key] = (outcomes[event][key] ?? 0) + 1;
      },
      () => unanswered++,
    )
    .finally(() => pending.delete(answer));
  pending.add(answer);
};

let flooding = false;
let floodedMs = 0;
let since = 0;
let sentMessages = 0;
let sentTyping = 0;
let sequence = 0;
process.on('SIGUSR1', () => {
  if (flooding) floodedMs += performance.now() - since;
  else since = performance.now();
  flooding = !flooding;
});
let stopping = false;
process.on('SIGUSR2', () => (stopping = true));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

// Ticks of 10 ms, each sending what is due, so that the rates hold whatever the timer jitter.
while (!stopping) {
  if (flooding) {
    const seconds = (floodedMs + performance.now() - since) / 1000;
    while (sentMessages < seconds * messagesPerSecond) {
      emit('sendMessage', { conversationId, text: `flood ${sequence++}` });
      sentMessages++;
    }
    while (sentTyping < seconds * typingPerSecond) {
      emit('startTyping', { conversationId });
      sentTyping++;
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
}
if (flooding) floodedMs += performance.now() - since;
await Promise.all([...pending]);
process.stdout.write(`${JSON.stringify({ sentMessages, sentTyping, outcomes, unanswered, connected: socket.connected, floodedMs })}\n`);
socket.close();
process.exit(0);
