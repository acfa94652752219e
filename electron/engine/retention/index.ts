/** Retention: which restore points to delete and why (pure planning; deletion goes through the repository). */
export * from './plan-retention.ts';
export * from './apply-retention.ts';
