import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { ToastProvider } from '@zendeskgarden/react-notifications';
import { DEFAULT_THEME, ThemeProvider } from '@zendeskgarden/react-theming';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createGlobalStyle } from 'styled-components';
import { BrowserRouter } from 'react-router';
import { App } from './App';
import { ApiError } from './api/client';
import { LiveProvider } from './live';
import { SessionProvider } from './session';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will not fix itself by asking again; a network blip might.
      retry: (count, err) => count < 2 && !(err instanceof ApiError && err.status >= 400 && err.status < 500),
      refetchOnWindowFocus: true,
      staleTime: 1_000,
    },
  },
});

// Garden styles components, not the page: the page gets Garden's system font stack and no margin.
const GlobalStyle = createGlobalStyle`
  body {
    margin: 0;
    font-family: ${DEFAULT_THEME.fonts.system};
    font-size: 14px;
    color: #2f3941;
    background: #fff;
  }
`;

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <ThemeProvider theme={DEFAULT_THEME}>
        <GlobalStyle />
        <ToastProvider placementProps={{ 'top-end': { style: { top: 64 } } }} zIndex={1000}>
          <QueryClientProvider client={queryClient}>
            <SessionProvider>
              <BrowserRouter basename="/agent">
                <App />
              </BrowserRouter>
            </SessionProvider>
          </QueryClientProvider>
        </ToastProvider>
      </ThemeProvider>
    </StrictMode>,
  );
}
