// Where a job's money went, derived from its escrow events.

import type { TimelineEvent } from "../api";
import { toBigInt } from "../format";
import { Amount, Empty, TableScroll, WorkerLink } from "./common";

interface Flow {
  kind: "deposited" | "paid" | "fees" | "refunded" | "slashed" | "credited";
  party: string | null;
  amount: bigint;
  block: number;
  note: string;
}

const text = (v: unknown): string => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));
const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function escrowFlows(timeline: TimelineEvent[]): Flow[] {
  const flows: Flow[] = [];
  for (const { name, args, block } of timeline) {
    const a = args as Record<string, unknown>;
    switch (name) {
      case "Deposited": {
        const jobs = Number(a["jobs"] ?? 1);
        const note = jobs > 1 ? `budget of ${jobs} jobs from #${text(a["firstJobId"])}` : "budget";
        flows.push({ kind: "deposited", party: text(a["payer"]), amount: toBigInt(text(a["amount"])), block, note });
        break;
      }
      case "Paid": {
        const amounts = items(a["amounts"]);
        items(a["payees"]).forEach((payee, i) =>
          flows.push({ kind: "paid", party: text(payee), amount: toBigInt(text(amounts[i])), block, note: "gross, before fee" }),
        );
        const fees = toBigInt(text(a["fees"]));
        if (fees > 0n) flows.push({ kind: "fees", party: null, amount: fees, block, note: "to the treasury" });
        break;
      }
      case "Refunded":
        flows.push({ kind: "refunded", party: text(a["to"]), amount: toBigInt(text(a["amount"])), block, note: "unspent budget" });
        break;
      case "Slashed":
        flows.push({ kind: "slashed", party: text(a["provider"]), amount: toBigInt(text(a["amount"])), block, note: "collateral" });
        break;
      case "NativeCredited":
        flows.push({ kind: "credited", party: text(a["to"]), amount: toBigInt(text(a["amount"])), block, note: "withdrawable" });
        break;
    }
  }
  return flows;
}

export function EscrowFlows({ timeline }: { timeline: TimelineEvent[] }) {
  const flows = escrowFlows(timeline);
  return (
    <div data-testid="escrow-flows">
      {flows.length === 0 ? (
        <Empty>No escrow movements yet</Empty>
      ) : (
        <TableScroll>
          <table class="table">
            <thead>
              <tr>
                <th>Flow</th>
                <th>Party</th>
                <th class="num">Amount</th>
                <th class="num">Block</th>
                <th>Note</th>
              </tr>
            </thead>
            <tbody>
              {flows.map((flow, i) => (
                <tr key={i} class={`flow-${flow.kind}`}>
                  <td>{flow.kind}</td>
                  <td>{flow.party ? <WorkerLink address={flow.party} /> : "—"}</td>
                  <td class="num nowrap">
                    <Amount wei={flow.amount} digits={6} />
                  </td>
                  <td class="num">{flow.block}</td>
                  <td class="muted">{flow.note}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </div>
  );
}
