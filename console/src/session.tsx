import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, onUnauthorized, setCsrfToken } from './api/client';
import type { Session } from './api/types';

interface SessionState {
  /** undefined while the first probe runs; null when signed out. */
  session: Session | null | undefined;
  /** True after the user signed out here (rather than the session ending elsewhere). */
  signedOut: boolean;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [signedOut, setSignedOut] = useState(false);

  const adopt = useCallback((next: Session | null) => {
    setCsrfToken(next?.csrf_token ?? null);
    setSession(next);
  }, []);

  useEffect(() => {
    let cancelled = false;
    api<{ session: Session }>('/api/v2/sideline/session', { quietUnauthorized: true })
      .then((res) => !cancelled && adopt(res.session))
      .catch(() => !cancelled && adopt(null));
    const stop = onUnauthorized(() => adopt(null));
    return () => {
      cancelled = true;
      stop();
    };
  }, [adopt]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      const res = await api<{ session: Session }>('/api/v2/sideline/session', {
        method: 'POST',
        body: { email, password },
        quietUnauthorized: true,
      });
      setSignedOut(false);
      adopt(res.session);
    },
    [adopt],
  );

  const signOut = useCallback(async () => {
    try {
      await api<void>('/api/v2/sideline/session', { method: 'DELETE', quietUnauthorized: true });
    } catch (err) {
      // Already gone on the server: signed out all the same.
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
    }
    setSignedOut(true);
    adopt(null);
  }, [adopt]);

  const value = useMemo(() => ({ session, signedOut, signIn, signOut }), [session, signedOut, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside SessionProvider');
  return state;
}

/** The signed-in user (only inside routes that require a session). */
export function useMe(): Session['user'] {
  const { session } = useSession();
  if (!session) throw new Error('useMe without a session');
  return session.user;
}
