// Cleanup by use: the policy file, and the plan of what a policy would delete and why.
export * from './policy.js';
export * from './plan.js';
export * from './patterns.js';
export * from './decide.js';
export * from './report.js';
export * from './apply.js';
