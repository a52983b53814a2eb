import { lazy, Suspense, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { useAuth } from './auth/auth';
import { Loading } from './components/ui';
import { SignInPage, SignUpPage, VerifyPage } from './pages/auth-pages';

// The signed-out pages are in the entry chunk, so the first page is interactive as soon as it loads; the signed-in
// app (menus, dialogs) and the heavier pages (charts, the grid) load when first visited.
const Shell = lazy(() => import('./pages/layout').then((m) => ({ default: m.Shell })));
const OrgLayout = lazy(() => import('./pages/layout').then((m) => ({ default: m.OrgLayout })));
const ProjectLayout = lazy(() => import('./pages/layout').then((m) => ({ default: m.ProjectLayout })));
const HomeRedirect = lazy(() => import('./pages/orgs').then((m) => ({ default: m.HomeRedirect })));
const MyInvitationsPage = lazy(() => import('./pages/orgs').then((m) => ({ default: m.MyInvitationsPage })));
const ProjectsPage = lazy(() => import('./pages/projects').then((m) => ({ default: m.ProjectsPage })));
const ProjectOverviewPage = lazy(() => import('./pages/projects').then((m) => ({ default: m.ProjectOverviewPage })));
const KeysPage = lazy(() => import('./pages/keys').then((m) => ({ default: m.KeysPage })));
const TablesPage = lazy(() => import('./pages/data').then((m) => ({ default: m.TablesPage })));
const TablePage = lazy(() => import('./pages/data').then((m) => ({ default: m.TablePage })));
const UsagePage = lazy(() => import('./pages/usage').then((m) => ({ default: m.UsagePage })));
const BillingPage = lazy(() => import('./pages/billing').then((m) => ({ default: m.BillingPage })));
const AuthSettingsPage = lazy(() => import('./pages/settings').then((m) => ({ default: m.AuthSettingsPage })));
const AuthUsersPage = lazy(() => import('./pages/auth-users').then((m) => ({ default: m.AuthUsersPage })));
const AccountPage = lazy(() => import('./pages/settings').then((m) => ({ default: m.AccountPage })));
const BucketsPage = lazy(() => import('./pages/storage').then((m) => ({ default: m.BucketsPage })));
const BucketPage = lazy(() => import('./pages/storage').then((m) => ({ default: m.BucketPage })));
const FunctionsPage = lazy(() => import('./pages/functions').then((m) => ({ default: m.FunctionsPage })));
const FunctionPage = lazy(() => import('./pages/functions').then((m) => ({ default: m.FunctionPage })));
const NotificationsPage = lazy(() => import('./pages/notifications').then((m) => ({ default: m.NotificationsPage })));
const MembersPage = lazy(() => import('./pages/members').then((m) => ({ default: m.MembersPage })));

function RequireAuth({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const location = useLocation();
  if (status === 'loading') return <Loading label="Starting…" />;
  if (status === 'signed-out') return <Navigate to="/sign-in" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
}

function PublicOnly({ children }: { children: ReactNode }) {
  const { status, user } = useAuth();
  if (status === 'loading') return <Loading label="Starting…" />;
  if (status === 'signed-in') return <Navigate to={user && !user.email_verified ? '/verify' : '/'} replace />;
  return <>{children}</>;
}

export function App() {
  return (
    <BrowserRouter>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/sign-in" element={<PublicOnly><SignInPage /></PublicOnly>} />
          <Route path="/sign-up" element={<PublicOnly><SignUpPage /></PublicOnly>} />
          <Route path="/verify" element={<RequireAuth><VerifyPage /></RequireAuth>} />
          <Route element={<RequireAuth><Shell /></RequireAuth>}>
            <Route index element={<HomeRedirect />} />
            <Route path="invitations" element={<MyInvitationsPage />} />
            <Route path="account" element={<AccountPage />} />
            <Route path="orgs/:orgId" element={<OrgLayout />}>
              <Route index element={<ProjectsPage />} />
              <Route path="members" element={<MembersPage />} />
              <Route path="billing" element={<BillingPage />} />
            </Route>
            <Route path="projects/:ref" element={<ProjectLayout />}>
              <Route index element={<ProjectOverviewPage />} />
              <Route path="keys" element={<KeysPage />} />
              <Route path="tables" element={<TablesPage />} />
              <Route path="tables/:table" element={<TablePage />} />
              <Route path="storage" element={<BucketsPage />} />
              <Route path="storage/:bucket" element={<BucketPage />} />
              <Route path="functions" element={<FunctionsPage />} />
              <Route path="functions/:name" element={<FunctionPage />} />
              <Route path="notifications" element={<NotificationsPage />} />
              <Route path="usage" element={<UsagePage />} />
              <Route path="auth" element={<AuthSettingsPage />} />
              <Route path="auth/users" element={<AuthUsersPage />} />
            </Route>
            <Route path="*" element={<NotFound />} />
          </Route>
        </Routes>
      </Suspense>
    </BrowserRouter>
  );
}

function NotFound() {
  return (
    <div className="state empty">
      <strong>Page not found</strong>
    </div>
  );
}
