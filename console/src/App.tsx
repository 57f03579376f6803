import { Navigate, Route, Routes, useLocation } from 'react-router';
import { ApiTokensPage } from './admin/ApiTokensPage';
import { GroupsPage } from './admin/GroupsPage';
import { IntegrationsPage } from './admin/IntegrationsPage';
import { UsersPage } from './admin/UsersPage';
import { Layout } from './components/Layout';
import { CenteredSpinner } from './components/States';
import { LiveProvider } from './live';
import { LoginPage } from './pages/LoginPage';
import { TicketPage } from './pages/TicketPage';
import { TicketsPage } from './pages/TicketsPage';
import { useSession } from './session';

function RequireSession() {
  const { session, signedOut } = useSession();
  const location = useLocation();
  if (session === undefined) return <CenteredSpinner label="Loading" />;
  // A session that ended elsewhere comes back here after signing in; one signed out of starts afresh
  // (the next person to sign in may not be the same).
  if (!session) return <Navigate to="/login" replace state={signedOut ? null : { from: location.pathname + location.search }} />;
  return (
    <LiveProvider>
      <Layout />
    </LiveProvider>
  );
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route element={<RequireSession />}>
        <Route index element={<Navigate to="/tickets" replace />} />
        <Route path="/tickets" element={<TicketsPage />} />
        <Route path="/tickets/:ticketId" element={<TicketPage />} />
        <Route path="/admin/users" element={<UsersPage />} />
        <Route path="/admin/groups" element={<GroupsPage />} />
        <Route path="/admin/api_tokens" element={<ApiTokensPage />} />
        <Route path="/admin/integrations" element={<IntegrationsPage />} />
        <Route path="*" element={<Navigate to="/tickets" replace />} />
      </Route>
    </Routes>
  );
}
