import { Button } from '@zendeskgarden/react-buttons';
import { Field, Input } from '@zendeskgarden/react-forms';
import { Alert } from '@zendeskgarden/react-notifications';
import { XL } from '@zendeskgarden/react-typography';
import { useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import styled from 'styled-components';
import { COLORS } from '../colors';
import { ApiError } from '../api/client';
import { useSession } from '../session';

const Card = styled.main`
  max-width: 400px;
  margin: 10vh auto 0;
  padding: 32px;
  border: 1px solid ${COLORS.border};
  border-radius: 8px;
  display: flex;
  flex-direction: column;
  gap: 16px;
  @media (max-width: 600px) {
    margin-top: 16px;
    border: none;
    padding: 16px;
  }
`;

function messageFor(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'Wrong email or password.';
    if (err.status === 403) return 'End-users cannot sign in to the agent console. Use the help center instead.';
    if (err.status === 429) return 'Too many failed attempts. Wait a few minutes, then try again.';
    return err.message;
  }
  return 'Sign-in failed. Try again.';
}

export function LoginPage() {
  const { session, signIn } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const from = (location.state as { from?: string } | null)?.from ?? '/tickets';

  if (session) return <Navigate to={from} replace />;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    signIn(email.trim(), password)
      .then(() => navigate(from, { replace: true }))
      .catch((err: unknown) => setError(messageFor(err)))
      .finally(() => setBusy(false));
  };

  return (
    <Card>
      <XL tag="h1">Sign in to Sideline</XL>
      <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 16 }} noValidate>
        {error ? (
          <Alert type="error" role="alert">
            {error}
          </Alert>
        ) : null}
        <Field>
          <Field.Label>Email</Field.Label>
          <Input type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </Field>
        <Field>
          <Field.Label>Password</Field.Label>
          <Input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </Field>
        <Button type="submit" isPrimary disabled={busy || !email || !password}>
          Sign in
        </Button>
      </form>
    </Card>
  );
}
