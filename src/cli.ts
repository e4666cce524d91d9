#!/usr/bin/env node
/**
 * framesift's command line (docs/design.md, "Command line"). Parses arguments with commander, resolves the
 * typed configuration (flags over environment variables over defaults) and calls one command.
 */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  OPTIONS,
  type CommandName,
  type OptionKey,
  commandsOf,
  configurationTable,
  resolveConfig,
} from './common/config.js';
import { UserError, errorMessage } from './common/errors.js';
import { logger, setLogLevel, type LogLevel } from './common/logger.js';
import { PROJECT_ROOT } from './common/paths.js';

const version = (
  JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

function addOptions(
  command: Command,
  name: CommandName,
  overrides: Partial<Record<OptionKey, string>> = {},
): Command {
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const spec = OPTIONS[key];
    if (!commandsOf(key).includes(name)) continue;
    if (name !== 'dataset' && key === 'datasetOut') continue;
    if (name === 'dataset' && key === 'out') continue;
    const help = overrides[key] ?? spec.description;
    const defaultText =
      'default' in spec ? ` (default ${spec.default}; env ${spec.env})` : ` (env ${spec.env})`;
    command.addOption(new Option(spec.flag, help + defaultText));
  }
  return command;
}

function configured<C extends CommandName>(name: C, flags: Record<string, unknown>) {
  const config = resolveConfig(name, flags);
  setLogLevel((config as { logLevel?: LogLevel }).logLevel ?? 'info');
  return config;
}

export function buildProgram(): Command {
  const program = new Command('framesift')
    .description('Real-time image-stream pipeline: stream, classify, embed and deduplicate image frames.')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  addOptions(
    program.command('serve').description('Stream a source over WebSocket (frames on 6000, control on 7000).'),
    'serve',
  ).action(async (flags: Record<string, unknown>) => {
    const { serveCommand } = await import('./commands/serve.js');
    await serveCommand(configured('serve', flags));
  });

  addOptions(
    program
      .command('run')
      .description('Receive a stream, classify and/or dedupe every frame, write and submit results.'),
    'run',
  ).action(async (flags: Record<string, unknown>) => {
    const { runCommand } = await import('./commands/run.js');
    await runCommand(configured('run', flags));
  });

  addOptions(
    program
      .command('app')
      .description(
        'The live web app: serve a source, dedupe it endlessly and serve the page (watch, tune, save) on --metrics-port.',
      ),
    'app',
  ).action(async (flags: Record<string, unknown>) => {
    const { appCommand } = await import('./commands/app.js');
    await appCommand(configured('app', flags));
  });

  addOptions(
    program
      .command('dedupe')
      .argument('<dir>', 'folder of images (searched recursively)')
      .description('Deduplicate a folder of images in one batch run.'),
    'dedupe',
    // Batch dedupe keeps the main thread idle, so its workers default to every core.
    { workers: 'Worker threads for decoding and embedding (default: all available cores).' },
  ).action(async (dir: string, flags: Record<string, unknown>) => {
    const { dedupeCommand } = await import('./commands/dedupe.js');
    await dedupeCommand(dir, configured('dedupe', flags));
  });

  addOptions(
    program
      .command('demo')
      .description('Serve Fashion-MNIST and run the client against it in one process (npm start).'),
    'run',
  ).action(async (flags: Record<string, unknown>) => {
    const { demoCommand } = await import('./commands/demo.js');
    const explicit = {
      count: flags.count !== undefined || Boolean(process.env.FRAMESIFT_COUNT),
      fps: flags.fps !== undefined || Boolean(process.env.FRAMESIFT_FPS),
    };
    await demoCommand(configured('run', flags), explicit);
  });

  addOptions(
    program
      .command('index')
      .argument('<dir>', 'folder of images (searched recursively)')
      .description(
        'Add a folder of images to the similar-image index (incremental: new/changed in, deleted out).',
      ),
    'index',
    { workers: 'Worker threads for decoding and embedding (default: all available cores).' },
  ).action(async (dir: string, flags: Record<string, unknown>) => {
    const { indexCommand } = await import('./commands/index-images.js');
    await indexCommand(dir, configured('index', flags));
  });

  addOptions(
    program
      .command('search')
      .argument('[query]', 'an image file, or the id of an indexed image')
      .description(
        'The k most similar indexed images to an image or id; --serve: the search API and demo page.',
      ),
    'search',
  ).action(async (query: string | undefined, flags: Record<string, unknown>) => {
    const { searchCommand } = await import('./commands/search.js');
    await searchCommand(query, configured('search', flags));
  });

  addOptions(
    program
      .command('neighbours')
      .description("Precompute and store every indexed image's k nearest neighbours (incremental)."),
    'neighbours',
  ).action(async (flags: Record<string, unknown>) => {
    const { neighboursCommand } = await import('./commands/neighbours.js');
    await neighboursCommand(configured('neighbours', flags));
  });

  const dataset = program.command('dataset').description('Dataset tooling.');
  addOptions(
    dataset
      .command('create')
      .description('Write an N-image Fashion-MNIST subset that `serve --source FILE` streams.'),
    'dataset',
  ).action(async (flags: Record<string, unknown>) => {
    const { datasetCreateCommand } = await import('./commands/dataset.js');
    await datasetCreateCommand(configured('dataset', { ...flags, datasetOut: flags.out }));
  });

  const bus = program
    .command('bus')
    .description('Scale-out over NATS JetStream: publish, collect, configure.');
  addOptions(
    bus.command('config').description('Print a nats-server configuration with the partition mapping.'),
    'bus',
  ).action(async (flags: Record<string, unknown>) => {
    const { busConfigCommand } = await import('./commands/bus.js');
    busConfigCommand(configured('bus', flags) as Parameters<typeof busConfigCommand>[0]);
  });
  addOptions(
    bus.command('publish').description('Publish a source as one camera onto the bus.'),
    'bus',
  ).action(async (flags: Record<string, unknown>) => {
    const { busPublishCommand } = await import('./commands/bus.js');
    await busPublishCommand(configured('bus', flags) as Parameters<typeof busPublishCommand>[0]);
  });
  addOptions(
    bus
      .command('collect')
      .description("Collect the workers' outcomes into results folders per camera session."),
    'bus',
  ).action(async (flags: Record<string, unknown>) => {
    const { busCollectCommand } = await import('./commands/bus.js');
    await busCollectCommand(configured('bus', flags) as Parameters<typeof busCollectCommand>[0]);
  });

  addOptions(
    program
      .command('worker')
      .description('Decide the frames of one bus partition (classify or dedupe); others stand by.'),
    'worker',
  ).action(async (flags: Record<string, unknown>) => {
    const { workerCommand } = await import('./commands/worker.js');
    await workerCommand(configured('worker', flags) as Parameters<typeof workerCommand>[0]);
  });

  addOptions(
    program
      .command('conformance')
      .description('Check that a server speaks the framesift protocol as docs/protocol.md documents it.'),
    'conformance',
  ).action(async (flags: Record<string, unknown>) => {
    const { conformanceCommand } = await import('./commands/conformance.js');
    await conformanceCommand(configured('conformance', flags));
  });

  program
    .command('config-table', { hidden: true })
    .description('Print the README configuration table.')
    .action(() => {
      process.stdout.write(configurationTable() + '\n');
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its one-line message (or the help/version text).
      return err.exitCode === 0 ? 0 : 2;
    }
    // One line on stderr and nothing else: the log copy is at debug level (LOG_LEVEL=debug shows it,
    // with the stack of an internal error), so an error is never printed twice.
    if (err instanceof UserError) {
      // Printed once, as the one line a person reads; the log only notes the code at debug level.
      process.stderr.write(`framesift: ${err.message}\n`);
      logger.debug('command failed', { code: err.code, exitCode: err.exitCode, detail: err.message });
      return err.exitCode;
    }
    process.stderr.write(`framesift: internal error: ${errorMessage(err)}\n`);
    logger.debug('exit on internal error', { error: err instanceof Error ? err.stack : String(err) });
    return 1;
  }
}

/** Run as a program: `node dist/cli.js`, or the `framesift` bin link an installed package makes to it. */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  if (path.resolve(script).replace(/\.ts$/, '.js').endsWith(path.join('dist', 'cli.js'))) return true;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  process.exitCode = await main(process.argv);
}
