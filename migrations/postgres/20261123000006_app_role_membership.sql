-- The server runs every transaction as `stepwise_app` (SET LOCAL ROLE in its BEGIN), so that
-- row-level security applies to its own queries, not only to other sessions. The account
-- that migrates, which is the account the server logs in as, must therefore be a member of
-- the role. A superuser may switch to any role and needs no grant; an account without the
-- right to grant gets a NOTICE, and `stepwise migrate` then says what a DBA must run.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepwise_app')
       AND NOT pg_has_role(current_user, 'stepwise_app', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT stepwise_app TO %I', current_user);
        EXCEPTION
            WHEN insufficient_privilege OR invalid_grant_operation THEN
                RAISE NOTICE 'stepwise_app not granted to % (%)', current_user, SQLERRM;
        END;
    END IF;
END
$$;
