-- A user's server names become unique regardless of case (`everything` and `Everything` both
-- make the tool prefix `everything__`). Rows that would collide keep the oldest (lowest id) name
-- as it is; each later one is renamed to the first free "<name> (2)", "<name> (3)", … of its
-- user (cut so it stays within the API's 200 characters), so the index below can be created.
DO $$
DECLARE
	dup record;
	n integer;
	candidate text;
BEGIN
	FOR dup IN
		SELECT "id", "user_id", "name" FROM (
			SELECT "id", "user_id", "name",
				row_number() OVER (PARTITION BY "user_id", lower("name") ORDER BY "id") AS "rank"
			FROM "mcp_servers"
		) AS "ranked"
		WHERE "rank" > 1
		ORDER BY "id"
	LOOP
		n := 2;
		LOOP
			candidate := left(dup."name", 200 - length(' (' || n || ')')) || ' (' || n || ')';
			EXIT WHEN NOT EXISTS (
				SELECT 1 FROM "mcp_servers"
				WHERE "user_id" = dup."user_id" AND lower("name") = lower(candidate)
			);
			n := n + 1;
		END LOOP;
		UPDATE "mcp_servers" SET "name" = candidate, "updated_at" = now() WHERE "id" = dup."id";
	END LOOP;
END $$;--> statement-breakpoint
DROP INDEX "mcp_servers_user_name_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "mcp_servers_user_lower_name_idx" ON "mcp_servers" USING btree ("user_id",lower("name"));
