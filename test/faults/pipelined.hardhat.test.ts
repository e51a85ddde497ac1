/** The pipelined anchoring faults (pipelined-suite.ts) on hardhat. */
import { pipelinedSuite } from './pipelined-suite.ts';

pipelinedSuite('hardhat');
