// Audit records as NDJSON on stdout (operational logs go to stderr), for container log pipelines.
import type { AuditSink } from '../sink.ts';

export function createStdoutSink(stream: NodeJS.WritableStream = process.stdout): AuditSink {
  return {
    name: 'stdout',
    remote: false,
    send(lines) {
      return new Promise((resolve, reject) => {
        stream.write(`${lines.join('\n')}\n`, (err) => (err ? reject(err) : resolve()));
      });
    },
    ready: () => true,
    async close() {},
  };
}
