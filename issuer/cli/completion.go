package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// addCompletionCommand adds cobra's "completion" command now, rather than
// when the command line runs, so that it and its per-shell subcommands get
// examples like every other command. The scripts go to out (cobra binds the
// writer when it makes the command).
func addCompletionCommand(root *cobra.Command, out io.Writer) {
	root.SetOut(out)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		// An unknown shell is a usage error, like an unknown subcommand
		// anywhere else.
		c.Args = cobra.ArbitraryArgs
		c.RunE = groupRun
		c.Example = `  # bash, this shell only:
  source <(svcauth completion bash)
  # zsh, every new shell:
  svcauth completion zsh > "${fpath[1]}/_svcauth"
  # fish:
  svcauth completion fish > ~/.config/fish/completions/svcauth.fish`
		for _, shell := range c.Commands() {
			switch shell.Name() {
			case "bash":
				shell.Example = `  source <(svcauth completion bash)
  svcauth completion bash > /etc/bash_completion.d/svcauth`
			case "zsh":
				shell.Example = `  svcauth completion zsh > "${fpath[1]}/_svcauth"`
			case "fish":
				shell.Example = `  svcauth completion fish > ~/.config/fish/completions/svcauth.fish`
			case "powershell":
				shell.Example = `  svcauth completion powershell | Out-String | Invoke-Expression`
			}
		}
	}
}
