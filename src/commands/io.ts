/** What a command may touch of the process: streams, the terminal question and the Ctrl-C signal. */
export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  isTty: boolean;
  signal: AbortSignal;
}

/** A progress display that must be told when the work ends, well or badly. */
export interface FinishingRenderer {
  finish(err?: unknown): Promise<void>;
}

/** Run the library call, then let the display draw its last frame before anything else is printed. */
export async function withRenderer<T>(renderer: FinishingRenderer | undefined, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (err: unknown) {
    await renderer?.finish(err);
    throw err;
  }
  await renderer?.finish();
  return result;
}
