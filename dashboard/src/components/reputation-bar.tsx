// Reputation (basis points, 0..10000) as a percentage with a bar.

import { formatReputation } from "../format";

export function ReputationBar({ bps }: { bps: number }) {
  const pct = Math.min(100, Math.max(0, bps / 100));
  return (
    <span class="reputation" title={`${bps} / 10000`}>
      <span class="bar" aria-hidden="true">
        <span class="bar-fill" style={{ width: `${pct}%` }} />
      </span>
      <span class="num">{formatReputation(bps)}</span>
    </span>
  );
}
