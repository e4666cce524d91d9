/** Reading what is already on a result subject (a worker rebuilding a camera's state; a collector catching up). */
import { AckPolicy, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import type { Bus } from './connection.js';
import { RESULTS_STREAM } from './subjects.js';

/** Every message stored on `subject` now, oldest first. */
export async function readSubject(bus: Bus, subject: string): Promise<JsMsg[]> {
  const info = await bus.jsm.consumers.add(RESULTS_STREAM, {
    filter_subject: subject,
    deliver_policy: DeliverPolicy.All,
    ack_policy: AckPolicy.None,
    inactive_threshold: 30e9,
  });
  const out: JsMsg[] = [];
  try {
    if (info.num_pending === 0) return out;
    const consumer = await bus.js.consumers.get(RESULTS_STREAM, info.name);
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
      let last: JsMsg | undefined;
      for await (const m of batch) {
        out.push(m);
        last = m;
      }
      if (!last || last.info.pending === 0) break;
    }
  } finally {
    await bus.jsm.consumers.delete(RESULTS_STREAM, info.name).catch(() => undefined);
  }
  return out;
}
