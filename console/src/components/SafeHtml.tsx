import DOMPurify from 'dompurify';
import { useMemo } from 'react';
import styled from 'styled-components';
import { COLORS } from '../colors';

// The server already sanitises html_body; the console sanitises again, since a body may have come
// from any channel and any version of the server.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

const Body = styled.div`
  overflow-wrap: anywhere;
  line-height: 1.5;
  p {
    margin: 0 0 8px;
  }
  img {
    max-width: 100%;
  }
  blockquote {
    margin: 0 0 8px;
    padding-left: 8px;
    border-left: 3px solid ${COLORS.border};
    color: ${COLORS.muted};
  }
`;

export function SafeHtml({ html, className }: { html: string; className?: string }) {
  const clean = useMemo(
    () => DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ['style', 'form', 'input', 'button'] }),
    [html],
  );
  return <Body className={className} dangerouslySetInnerHTML={{ __html: clean }} />;
}
