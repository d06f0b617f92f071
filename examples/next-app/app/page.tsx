export default function Home() {
  return (
    <>
      <h1>Welcome</h1>
      <p>
        This page is public. The dashboard needs a signed-in user; its admin page, the admin role.
      </p>
    </>
  );
}
