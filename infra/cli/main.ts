import { Command, CommanderError } from 'commander';
import { ZodError } from 'zod';
import { isTesseraError } from '../../api/protocol/errors.ts';
import { farmCommand } from './farm-command.ts';
import { keysCommand } from './keys-command.ts';
import { ledgerCommand } from './ledger-command.ts';
import { nodeCommand } from './node-command.ts';
import { renderCommand } from './render-command.ts';
import { setupCommand } from './setup-command.ts';
import { apiCommand } from './api-command.ts';
import { simCommand } from './sim-command.ts';
import { sessionCommand } from './session-command.ts';

/** Exit codes: 0 success, 2 bad input (one line on stderr), 1 any other failure. */
export const EXIT = { ok: 0, failure: 1, badInput: 2 } as const;

const program = new Command('tessera')
  .description('Tessera: render glTF scenes into frames, locally or on a render farm.')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ outputError: () => {} })
  .showHelpAfterError(false);

program.addCommand(renderCommand());
program.addCommand(farmCommand());
program.addCommand(nodeCommand());
program.addCommand(apiCommand());
program.addCommand(keysCommand());
program.addCommand(ledgerCommand());
program.addCommand(simCommand());
program.addCommand(sessionCommand());
program.addCommand(setupCommand());
// addCommand() does not pass these settings down: every command reports errors through fail().
const quiet = (command: Command): void => {
  command.exitOverride().configureOutput({ outputError: () => {} });
  command.commands.forEach(quiet);
};
program.commands.forEach(quiet);

/** One line on stderr, then the right exit code. */
function fail(err: unknown): never {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(EXIT.ok);
    process.stderr.write(`tessera: ${err.message.replace(/^error: /, '')}\n`);
    process.exit(EXIT.badInput);
  }
  if (isTesseraError(err)) {
    process.stderr.write(`tessera: ${err.code}: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    process.stderr.write(`tessera: BAD_SPEC: ${issue.path.join('.') || 'input'}: ${issue.message}\n`);
    process.exit(EXIT.badInput);
  }
  if (err instanceof RangeError) {
    process.stderr.write(`tessera: BAD_SPEC: ${err.message}\n`);
    process.exit(EXIT.badInput);
  }
  const e = err as Error;
  process.stderr.write(`tessera: ${e?.stack ?? e}\n`);
  process.exit(EXIT.failure);
}

// Commands that stop gracefully (farm up, render --api) add listeners of their own; this one then steps aside.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (process.listenerCount(signal) > 1) return;
    process.stderr.write(`\ntessera: interrupted (${signal})\n`);
    process.exit(130);
  });
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
