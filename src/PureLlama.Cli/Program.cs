return PureLlama.Cli.CliApp.Run(args);
