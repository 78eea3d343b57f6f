/** What a command may touch of the process: streams, the terminal question and the Ctrl-C signal. */
export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  isTty: boolean;
  signal: AbortSignal;
}
