// How a page runs what the user asked for: the last error (and notice)
// cleared, the call made, the page's data read again, a refusal shown.
// The server decides; its message is what the user reads.

/**
 * `act(fn)` for a page or a section. Before `fn`: `setError(null)`, and when
 * given `setNotice(null)` and `setBusy(true)`. After it: `reload()` when given.
 * A failure of either goes to `onError` (by default `setError`); busy ends
 * whatever happens.
 */
export function runner({ setError, setNotice, setBusy, reload, onError = setError }) {
  return async (fn) => {
    setBusy?.(true);
    setError(null);
    setNotice?.(null);
    try {
      await fn();
      if (reload) await reload();
    } catch (err) {
      onError(err);
    } finally {
      setBusy?.(false);
    }
  };
}
