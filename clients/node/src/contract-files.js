// The contract's shared files (the repository's schemas/ folder), read by this package.
//
// A packed package carries its own copy as schemas/ beside src/ (package.json's prepack script
// copies the repository's folder in, postpack removes it again); a checkout of the repository
// reads the repository's folder itself. Either way every language reads the same bytes.

import { existsSync, readFileSync } from 'node:fs';

const LOCATIONS = [
  new URL('../schemas/', import.meta.url), // the packed package's copy
  new URL('../../../schemas/', import.meta.url), // clients/node inside the repository
];

/** The receiver side of the contract: each refusal reason's status, and concrete cases. */
export const RECEIVER_CASES_FILE = 'vectors/receiver_cases.v1.json';

/** Parse a JSON file under schemas/, such as `vectors/receiver_cases.v1.json`. */
export function readContractJson(relative) {
  for (const folder of LOCATIONS) {
    const file = new URL(relative, folder);
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  }
  throw new Error(
    `the contract file schemas/${relative} is missing from this package; reinstall ` +
      '@hokusai/contracts (in a checkout, run from inside the repository)',
  );
}
