// "Verify result": fetch the result document, hash it in the page, compare with the chain.

import { useEffect, useRef, useState } from "preact/hooks";
import { outputText, verifyResult, type ResultDocument, type Verification } from "../verify";

export function VerifyResult({ jobId, digest }: { jobId: number; digest: string }) {
  const [result, setResult] = useState<Verification | null>(null);
  const [running, setRunning] = useState(false);
  const controller = useRef<AbortController | null>(null);

  // A different job, or leaving the page, cancels a verification in flight.
  useEffect(() => {
    setResult(null);
    return () => controller.current?.abort();
  }, [jobId, digest]);

  const run = () => {
    controller.current?.abort();
    const current = new AbortController();
    controller.current = current;
    setRunning(true);
    verifyResult(jobId, digest, current.signal).then(
      (verification) => {
        setResult(verification);
        setRunning(false);
      },
      () => undefined, // Aborted: the component moved on.
    );
  };

  return (
    <div class="verify">
      <button type="button" class="button" data-testid="verify-button" onClick={run} disabled={running}>
        {running ? "Verifying…" : "Verify result"}
      </button>
      {result && <VerifyStatus result={result} />}
      {result?.state === "ok" && result.document && <ResultView doc={result.document} />}
      {result?.state === "ok" && result.decodeError && <p class="muted">Could not decode the result document: {result.decodeError}</p>}
    </div>
  );
}

function VerifyStatus({ result }: { result: Verification }) {
  switch (result.state) {
    case "ok":
      return (
        <p class="verify-status ok" data-testid="verify-status" data-state="ok" role="status">
          ✓ Verified: sha256 matches the on-chain digest <span class="mono break">{result.digest}</span>
        </p>
      );
    case "mismatch":
      return (
        <p class="verify-status mismatch" data-testid="verify-status" data-state="mismatch" role="alert">
          ✗ Mismatch: got <span class="mono break">{result.got}</span>, on-chain <span class="mono break">{result.expected}</span>
        </p>
      );
    case "error":
      return (
        <p class="verify-status error" data-testid="verify-status" data-state="error" role="alert">
          Could not verify: {result.message}
        </p>
      );
  }
}

function ResultView({ doc }: { doc: ResultDocument }) {
  const output = outputText(doc.output);
  return (
    <div class="result">
      <dl class="facts compact">
        <dt>Status</dt>
        <dd>{doc.status}</dd>
        <dt>Exit code</dt>
        <dd>{doc.exit}</dd>
        {doc.detail && (
          <>
            <dt>Detail</dt>
            <dd>{doc.detail}</dd>
          </>
        )}
        <dt>Output</dt>
        <dd class="muted">
          {doc.output.length} bytes{output.binary ? " (binary, shown as hex)" : ""}
        </dd>
      </dl>
      <pre class="output" data-testid="result-output">
        {output.text}
      </pre>
    </div>
  );
}
