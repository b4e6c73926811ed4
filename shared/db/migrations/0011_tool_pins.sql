CREATE TABLE "tool_pins" (
	"server_id" integer NOT NULL,
	"tool_name" text NOT NULL,
	"hash" text NOT NULL,
	"definition" jsonb NOT NULL,
	"approved_at" timestamp with time zone DEFAULT now() NOT NULL,
	"approved_by" integer,
	CONSTRAINT "tool_pins_pkey" PRIMARY KEY("server_id","tool_name")
);
--> statement-breakpoint
ALTER TABLE "mcp_servers" ADD COLUMN "pin_tools" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "mcp_servers" ADD COLUMN "tools_pinned_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "tool_pins" ADD CONSTRAINT "tool_pins_server_id_mcp_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."mcp_servers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tool_pins" ADD CONSTRAINT "tool_pins_approved_by_users_id_fk" FOREIGN KEY ("approved_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;