import { useCallback, useState } from 'react';
import { useApp } from '../app-context.js';
import { Email } from '../components/Email.js';
import { PageTitle } from '../components/ui.js';
import { Activity } from './account/Activity.js';
import { ChangeEmail } from './account/ChangeEmail.js';
import { ChangePassword } from './account/ChangePassword.js';
import { Devices } from './account/Devices.js';
import { Profile } from './account/Profile.js';
import { TwoStep } from './account/TwoStep.js';

export function AccountPage() {
  const { user } = useApp();
  // A password change signs the other devices out, and each change is a new activity entry:
  // the lists load again.
  const [version, setVersion] = useState(0);
  const bump = useCallback(() => setVersion((v) => v + 1), []);
  return (
    <>
      <PageTitle>Your account</PageTitle>
      <p className="lead">Signed in as {user ? <Email address={user.email} /> : null}.</p>
      <div className="grid">
        <Profile onChanged={bump} />
        <Devices version={version} />
        <ChangePassword onChanged={bump} />
        <ChangeEmail />
        <TwoStep onChanged={bump} />
        <Activity version={version} />
      </div>
    </>
  );
}
