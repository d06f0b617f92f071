import { type ReactNode, useEffect, useState } from 'react';
import {
  BrowserRouter,
  Link,
  Navigate,
  Route,
  Routes,
  useLocation,
  useNavigate,
} from 'react-router';
import { describeError } from './api.js';
import { isAdmin, useApp } from './app-context.js';
import { ToastOutlet, useToast } from './components/toast.js';
import { Button } from './components/ui.js';
import { AccountPage } from './pages/AccountPage.js';
import { AdminPage } from './pages/AdminPage.js';
import { CheckEmailPage } from './pages/CheckEmailPage.js';
import { ForgotPasswordPage } from './pages/ForgotPasswordPage.js';
import { LoginPage } from './pages/LoginPage.js';
import { TwoStepPage } from './pages/TwoStepPage.js';
import { NotFoundPage } from './pages/NotFoundPage.js';
import { RegisterPage } from './pages/RegisterPage.js';
import { ResendVerificationPage } from './pages/ResendVerificationPage.js';
import { ResetPasswordPage } from './pages/ResetPasswordPage.js';
import { VerifyEmailPage } from './pages/VerifyEmailPage.js';
import { isOwnPage, safeNext } from './safe-next.js';

/** Pages for signed-in people: sign-in first, and back to sign-in when the session ends. */
function RequireUser({ children, admin = false }: { children: ReactNode; admin?: boolean }) {
  const { user, refreshUser } = useApp();
  const location = useLocation();
  // An admin may end this session elsewhere: check on focus and every 30 s.
  useEffect(() => {
    if (!user) return;
    const check = () => {
      if (document.visibilityState === 'visible') void refreshUser();
    };
    const timer = setInterval(check, 30_000);
    window.addEventListener('focus', check);
    document.addEventListener('visibilitychange', check);
    return () => {
      clearInterval(timer);
      window.removeEventListener('focus', check);
      document.removeEventListener('visibilitychange', check);
    };
  }, [user, refreshUser]);
  if (user === undefined)
    return (
      <p className="hint" role="status">
        Loading…
      </p>
    );
  if (user === null) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?next=${next}`} replace />;
  }
  if (admin && !isAdmin(user)) {
    return (
      <section className="card">
        <h1>Not allowed</h1>
        <p>This page is for administrators.</p>
        <Link to="/account">Go to your account</Link>
      </section>
    );
  }
  return <>{children}</>;
}

/** Signed-in people have nothing to do on the sign-in and sign-up pages. */
function GuestOnly({ children }: { children: ReactNode }) {
  const { user } = useApp();
  const location = useLocation();
  const next = safeNext(new URLSearchParams(location.search).get('next'));
  const leaves = !!user && !isOwnPage(next);
  useEffect(() => {
    if (leaves) window.location.replace(next);
  }, [leaves, next]);
  if (user) return leaves ? null : <Navigate to={next} replace />;
  return <>{children}</>;
}

function SignOutButton() {
  const { api, setUser } = useApp();
  const toast = useToast();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  return (
    <Button
      variant="link"
      loading={busy}
      loadingText="Signing out…"
      onClick={async () => {
        setBusy(true);
        try {
          await api.logout();
          toast('You are signed out.');
        } catch (error) {
          // An ended session is signed out anyway.
          if (!(error instanceof Error && 'status' in error && error.status === 401)) {
            toast(describeError(error), 'error');
          }
        } finally {
          setBusy(false);
          setUser(null);
          navigate('/login');
        }
      }}
    >
      Sign out
    </Button>
  );
}

function Layout({ children }: { children: ReactNode }) {
  const { config, user } = useApp();
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to={user ? '/account' : '/login'} className="brand">
          {config.brand.logoUrl ? <img src={config.brand.logoUrl} alt="" className="logo" /> : null}
          <span>{config.brand.name}</span>
        </Link>
        <nav aria-label="Main">
          {user ? (
            <>
              <Link to="/account">Account</Link>
              {isAdmin(user) ? <Link to="/admin">Admin</Link> : null}
              <SignOutButton />
            </>
          ) : user === null ? (
            <>
              <Link to="/login">Sign in</Link>
              <Link to="/register">Create account</Link>
            </>
          ) : null}
        </nav>
      </header>
      <ToastOutlet />
      <main id="main">{children}</main>
    </>
  );
}

export function AppRoutes() {
  const { user } = useApp();
  return (
    <Layout>
      <Routes>
        <Route
          path="/"
          element={
            user === undefined ? null : <Navigate to={user ? '/account' : '/login'} replace />
          }
        />
        <Route
          path="/login"
          element={
            <GuestOnly>
              <LoginPage />
            </GuestOnly>
          }
        />
        <Route
          path="/two-step"
          element={
            <GuestOnly>
              <TwoStepPage />
            </GuestOnly>
          }
        />
        <Route
          path="/register"
          element={
            <GuestOnly>
              <RegisterPage />
            </GuestOnly>
          }
        />
        <Route path="/check-email" element={<CheckEmailPage />} />
        <Route path="/verify-email" element={<VerifyEmailPage />} />
        <Route path="/resend-verification" element={<ResendVerificationPage />} />
        <Route path="/forgot-password" element={<ForgotPasswordPage />} />
        <Route path="/reset-password" element={<ResetPasswordPage />} />
        <Route
          path="/account"
          element={
            <RequireUser>
              <AccountPage />
            </RequireUser>
          }
        />
        <Route
          path="/admin"
          element={
            <RequireUser admin>
              <AdminPage />
            </RequireUser>
          }
        />
        <Route path="*" element={<NotFoundPage />} />
      </Routes>
    </Layout>
  );
}

export function App() {
  return (
    <BrowserRouter>
      <AppRoutes />
    </BrowserRouter>
  );
}
