/**
 * Copies the compiled AnchorRegistry (ABI, bytecode) from Hardhat's artifacts/ into
 * src/chain/artifacts/AnchorRegistry.json, which the service and CLI load at run time, so that
 * `npm start` needs no compiler. With --check it fails instead when the committed copy is stale.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const source = 'artifacts/contracts/AnchorRegistry.sol/AnchorRegistry.json';
const target = 'src/chain/artifacts/AnchorRegistry.json';

const compiled = JSON.parse(readFileSync(source, 'utf8'));
const exported =
  JSON.stringify(
    {
      contractName: compiled.contractName,
      sourceName: compiled.sourceName,
      abi: compiled.abi,
      bytecode: compiled.bytecode,
      deployedBytecode: compiled.deployedBytecode,
    },
    null,
    2,
  ) + '\n';

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    /* missing counts as stale */
  }
  if (current !== exported) {
    console.error(`${target} is stale: run \`npm run contracts:build\` and commit the result`);
    process.exit(1);
  }
  console.log(`${target} matches the compiled contract`);
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, exported);
  console.log(`wrote ${target}`);
}
