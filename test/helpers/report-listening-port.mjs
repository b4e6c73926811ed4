// Preloaded with `node --import` into a server started with PORT=0: when any net server starts
// listening, writes `LISTENING <port>` to stderr, so the test learns the port the kernel chose
// instead of guessing a free one (no race with other processes).
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => {
    const address = this.address();
    if (address && typeof address === 'object') {
      process.stderr.write(`LISTENING ${address.port}\n`);
    }
  });
  return listen.apply(this, args);
};
