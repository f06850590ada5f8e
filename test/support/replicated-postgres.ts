// The bench starts the same primary and replica (bench/lib/replicated-postgres.ts, the one copy).
export { startReplicatedPostgres, type ReplicatedPostgres } from '../../bench/lib/replicated-postgres.js';
