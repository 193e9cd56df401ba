package cli

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/svcauth/svcauth/issuer/apiv1"
)

func itoa(n int) string { return strconv.Itoa(n) }

func (a *app) adminKeysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "admin-keys",
		Aliases: []string{"admin-key"},
		Short:   "Manage named admin keys (each action is attributed to its key in the audit log)",
		Example: `  svcauth admin-keys create ci-pipeline
  svcauth admin-keys list
  svcauth admin-keys revoke KEY_ID`,
		RunE: groupRun,
	}
	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create an admin key; it is shown only now",
		Example: `  svcauth admin-keys create ci-pipeline`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var k apiv1.AdminKey
			if err := c.do(cmd.Context(), http.MethodPost, "/v1/admin-keys", nil, apiv1.CreateAdminKeyRequest{Name: args[0]}, &k); err != nil {
				return err
			}
			if a.output == "json" {
				return fail(printJSON(a.stdout, k))
			}
			if err := fields(a.stdout, "ID", k.ID, "Name", k.Name, "Key", k.Key); err != nil {
				return fail(err)
			}
			a.warnf("Copy the admin key now: it is never shown again.\n")
			return nil
		},
	}
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List admin keys (never the keys themselves)",
		Example: `  svcauth admin-keys list -o json`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			keys, err := listAll[apiv1.AdminKey](cmd.Context(), c, "/v1/admin-keys", nil, "")
			if err != nil {
				return err
			}
			return printList(a, keys, []string{"ID", "NAME", "CREATED", "STATUS"}, func(k apiv1.AdminKey) []string {
				status := "active"
				if k.RevokedAt != nil {
					status = "revoked " + fmtTime(k.RevokedAt)
				}
				return []string{k.ID, k.Name, fmtTime(&k.CreatedAt), status}
			})
		},
	}
	revoke := &cobra.Command{
		Use:     "revoke KEY_ID",
		Short:   "Revoke an admin key (the last live key cannot be revoked)",
		Example: `  svcauth admin-keys revoke KEY_ID`,
		Args:    exactArgs("KEY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var k apiv1.AdminKey
			if err := c.do(cmd.Context(), http.MethodDelete, "/v1/admin-keys/"+url.PathEscape(args[0]), nil, nil, &k); err != nil {
				return err
			}
			if a.output == "json" {
				return fail(printJSON(a.stdout, k))
			}
			return fail(fields(a.stdout, "ID", k.ID, "Name", k.Name, "Revoked", fmtTime(k.RevokedAt)))
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
