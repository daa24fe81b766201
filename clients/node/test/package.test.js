// The packed package (npm pack) carries the contract files it reads at run time, so the
// reference receiver works once installed outside this repository.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';

import { RECEIVER_CASES_FILE, readContractJson } from '../src/contract-files.js';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const SCHEMAS = fileURLToPath(new URL('../../../schemas', import.meta.url));

/** Pack a copy laid out like the repository, so the working tree is never touched. */
function packCopy(folder) {
  const copy = join(folder, 'repository', 'clients', 'node');
  mkdirSync(copy, { recursive: true });
  for (const name of ['package.json', 'README.md', 'src', 'examples']) {
    cpSync(join(PACKAGE, name), join(copy, name), { recursive: true });
  }
  cpSync(SCHEMAS, join(folder, 'repository', 'schemas'), { recursive: true });
  const output = execFileSync('npm', ['pack', '--silent', '--pack-destination', folder], {
    cwd: copy,
    encoding: 'utf8',
  });
  return join(folder, output.trim().split('\n').pop());
}

test('the packed package reads its reasons from its own copy of the contract files', () => {
  const folder = mkdtempSync(join(tmpdir(), 'hokusai-pack-'));
  try {
    const tarball = packCopy(folder);
    const installed = join(folder, 'installed');
    mkdirSync(installed);
    execFileSync('tar', ['-xzf', tarball, '-C', installed]);
    const handler = pathToFileURL(join(installed, 'package', 'src', 'handler.js'));
    const script = `import { ErrorReason } from '${handler}';
      console.log(JSON.stringify(Object.values(ErrorReason)));`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: installed,
      encoding: 'utf8',
    });
    const expected = Object.keys(readContractJson(RECEIVER_CASES_FILE).reasons);
    assert.deepEqual(JSON.parse(output), expected);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
