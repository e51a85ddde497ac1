/** The pipelined crash points (see crash-points-pipelined.ts) on hardhat. */
import { crashPointsPipelined } from './crash-points-pipelined.ts';

crashPointsPipelined('hardhat');
