/**
 * The status widget's entry point (placeholder).
 */
export {};
