// Executable entry: runs main() and exits with its code. Nothing else lives here.
import './early-signals'; // first: SIGUSR1 must never find the process without a listener
import './gc-tuning';
import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`nutmeg: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
