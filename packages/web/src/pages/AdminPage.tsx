import { Link, useSearchParams } from 'react-router';
import { PageTitle } from '../components/ui.js';
import { AuditEvents } from './admin/AuditEvents.js';
import { UserDetail } from './admin/UserDetail.js';
import { UsersTable } from './admin/UsersTable.js';
import { Webhooks } from './admin/Webhooks.js';

/**
 * The admin pages: users (search, pages), one user (sessions, disable, roles, reset), audit
 * events, webhook endpoints.
 */
export function AdminPage() {
  const [params] = useSearchParams();
  const userId = params.get('user');
  const asked = params.get('tab');
  const tab = asked === 'audit' || asked === 'webhooks' ? asked : 'users';
  return (
    <div className="admin">
      <PageTitle>Administration</PageTitle>
      <nav className="tabs" aria-label="Administration">
        <Link to="/admin" aria-current={tab === 'users' && !userId ? 'page' : undefined}>
          Users
        </Link>
        <Link to="/admin?tab=audit" aria-current={tab === 'audit' ? 'page' : undefined}>
          Audit events
        </Link>
        <Link to="/admin?tab=webhooks" aria-current={tab === 'webhooks' ? 'page' : undefined}>
          Webhooks
        </Link>
      </nav>
      {userId ? (
        <UserDetail id={userId} />
      ) : tab === 'audit' ? (
        <AuditEvents />
      ) : tab === 'webhooks' ? (
        <Webhooks />
      ) : (
        <UsersTable />
      )}
    </div>
  );
}
