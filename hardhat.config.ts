import { createRequire } from 'node:module';
import { subtask, type HardhatUserConfig } from 'hardhat/config.js';
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from 'hardhat/builtin-tasks/task-names.js';

// Hardhat cannot download compilers on machines that reach only the npm registry,
// so the compiler is the `solc` npm package (solcjs), pinned in package.json.
const requireHere = createRequire(__filename);
const solc = requireHere('solc') as { version(): string };
const solcVersion: string = requireHere('solc/package.json').version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== solcVersion) return runSuper();
  return {
    compilerPath: requireHere.resolve('solc/soljson.js'),
    isSolcJs: true,
    version: solcVersion,
    longVersion: solc.version().replace(/\.Emscripten.*$/, ''),
  };
});

const config: HardhatUserConfig = {
  solidity: {
    version: solcVersion,
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: 'cancun' },
  },
  paths: { tests: 'test/contracts', cache: 'cache', artifacts: 'artifacts' },
};

export default config;
