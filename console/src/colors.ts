/** The few Garden palette colours the console's own styles use (Garden's theme types them as optional). */
export const COLORS = {
  border: '#d8dcde',
  muted: '#49545c',
  header: '#03363d',
  accent: '#1f73b7',
  danger: '#cd3642',
  success: '#037f52',
  warning: '#ad5918',
  subtle: '#f8f9f9',
} as const;
