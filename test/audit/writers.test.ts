// The audit writer contract (writer.contract.ts) for both writers: on the event loop (the default)
// and in a worker thread (audit.worker_thread: true).
import { auditWriterContract } from './writer.contract.ts';

auditWriterContract(false);
auditWriterContract(true);
