import { useMutation } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { api, unwrap } from '../api/client';
import { useAuth } from '../auth/auth';
import { Button, Field, fieldError, FormError } from '../components/ui';

function AuthCard({ title, children, footer }: { title: string; children: ReactNode; footer?: ReactNode }) {
  return (
    <main className="auth-page">
      <div className="auth-card">
        <div className="brand">Plinth</div>
        <h1>{title}</h1>
        {children}
        {footer ? <p className="auth-footer">{footer}</p> : null}
      </div>
    </main>
  );
}

export function SignInPage() {
  const { signIn } = useAuth();
  // A User Timing mark when the first page is on screen with its handlers attached (read by the browser test, and by
  // anyone profiling the console in devtools).
  useEffect(() => {
    performance.mark('console:sign-in-interactive');
  }, []);
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const m = useMutation({ mutationFn: () => signIn(email, password), onSuccess: () => navigate(from ?? '/', { replace: true }) });
  return (
    <AuthCard title="Sign in" footer={<>New here? <Link to="/sign-up">Create an account</Link></>}>
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); m.mutate(); }} noValidate>
        <Field label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={fieldError(m.error, 'email')} autoFocus />
        <Field label="Password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} error={fieldError(m.error, 'password')} />
        <FormError error={m.error} />
        <Button type="submit" busy={m.isPending} className="wide">Sign in</Button>
      </form>
    </AuthCard>
  );
}

export function SignUpPage() {
  const { signUp } = useAuth();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const m = useMutation({ mutationFn: () => signUp(email, password, name.trim() || undefined), onSuccess: () => navigate('/verify', { replace: true }) });
  return (
    <AuthCard title="Create your account" footer={<>Have an account? <Link to="/sign-in">Sign in</Link></>}>
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); m.mutate(); }} noValidate>
        <Field label="Name (optional)" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} error={fieldError(m.error, 'name')} autoFocus />
        <Field label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={fieldError(m.error, 'email')} />
        <Field label="Password" type="password" autoComplete="new-password" required value={password} onChange={(e) => setPassword(e.target.value)} error={fieldError(m.error, 'password')} hint="8+ characters mixing three of lowercase, uppercase, digits and symbols (or 16+ characters)" />
        <FormError error={m.error} />
        <Button type="submit" busy={m.isPending} className="wide">Create account</Button>
      </form>
    </AuthCard>
  );
}

export function VerifyPage() {
  const { user, reloadUser, signOut } = useAuth();
  const navigate = useNavigate();
  const [code, setCode] = useState('');
  const verify = useMutation({
    mutationFn: async () => {
      await unwrap(api.POST('/v1/auth/verify', { body: { email: user?.email ?? '', code: code.trim() } }));
      await reloadUser();
    },
    onSuccess: () => navigate('/', { replace: true }),
  });
  const resend = useMutation({ mutationFn: () => unwrap(api.POST('/v1/auth/verify/resend', { body: { email: user?.email ?? '' } })) });
  if (user?.email_verified) {
    return (
      <AuthCard title="Email verified">
        <Button onClick={() => navigate('/')}>Continue</Button>
      </AuthCard>
    );
  }
  return (
    <AuthCard
      title="Verify your email"
      footer={
        <>
          <button type="button" className="link" onClick={() => navigate('/')}>Skip for now</button> ·{' '}
          <button type="button" className="link" onClick={() => void signOut()}>Sign out</button>
        </>
      }
    >
      <p className="muted">
        We sent a 6-digit code to <strong>{user?.email}</strong>. Inviting and joining teams needs a verified address.
      </p>
      <form onSubmit={(e: FormEvent) => { e.preventDefault(); verify.mutate(); }} noValidate>
        <Field label="Verification code" inputMode="numeric" autoComplete="one-time-code" maxLength={6} value={code} onChange={(e) => setCode(e.target.value)} error={fieldError(verify.error, 'code')} autoFocus />
        <FormError error={verify.error} />
        <Button type="submit" busy={verify.isPending} className="wide">Verify</Button>
      </form>
      <Button variant="ghost" onClick={() => resend.mutate()} busy={resend.isPending}>
        {resend.isSuccess ? 'Sent — check your inbox' : 'Send a new code'}
      </Button>
    </AuthCard>
  );
}
