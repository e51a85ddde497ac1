import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { describeStorageBehaviour } from './behaviour.ts';

describeStorageBehaviour('memory', async () => new MemoryStorage());
