//! `quotes createsuperuser`, `quotes changepassword USER`, `quotes users`, and
//! `serve --create-superuser`. No command ever prints or logs a password.

use std::io::{BufRead, IsTerminal, Write};
use web::admin::Actor;

use anyhow::{bail, Context as _};
use web::clap::{Arg, ArgAction, ArgMatches, Command};
use web::CommandContext;

use crate::password;
use crate::store::{AccountStore, AccountsError, Email, Flags, NewUser, Username};

/// The variables `createsuperuser --no-input` reads, as Django's `DJANGO_SUPERUSER_*`.
pub const USERNAME_VAR: &str = "QUOTES_SUPERUSER_USERNAME";
pub const EMAIL_VAR: &str = "QUOTES_SUPERUSER_EMAIL";
pub const PASSWORD_VAR: &str = "QUOTES_SUPERUSER_PASSWORD";

pub(crate) fn definitions() -> Vec<Command> {
    vec![
        Command::new("createsuperuser")
            .about("Create a superuser: asks for name and password, or reads QUOTES_SUPERUSER_* with --no-input; a user that exists is left as it is")
            .arg(
                Arg::new("no-input")
                    .long("no-input")
                    .action(ArgAction::SetTrue)
                    .help("Read QUOTES_SUPERUSER_USERNAME, QUOTES_SUPERUSER_EMAIL and QUOTES_SUPERUSER_PASSWORD; ask nothing"),
            )
            .arg(
                Arg::new("update-password")
                    .long("update-password")
                    .action(ArgAction::SetTrue)
                    .help("When the user exists, set its password (from QUOTES_SUPERUSER_PASSWORD or the prompt)"),
            ),
        Command::new("changepassword")
            .about("Set a user's password (asked twice; read from stdin when it is not a terminal) and end the user's sessions")
            .arg(Arg::new("username").value_name("USER").required(true)),
        Command::new("clearsessions")
            .about("Drop expired and idle sessions and old login attempts (the site also does it now and then)"),
        Command::new("users").about("List the users").arg(
            Arg::new("superusers")
                .long("superusers")
                .action(ArgAction::SetTrue)
                .help("Only the active superusers' names, one a line"),
        ),
    ]
}

pub(crate) fn serve_arg() -> Arg {
    Arg::new("create-superuser")
        .long("create-superuser")
        .action(ArgAction::SetTrue)
        .help("Before serving, create the superuser QUOTES_SUPERUSER_* name (as createsuperuser --no-input)")
}

/// Reads answers: from the terminal (passwords without echo), or line by line from stdin.
struct Prompter {
    terminal: bool,
    lines: std::io::Lines<std::io::StdinLock<'static>>,
}

impl Prompter {
    fn new() -> Self {
        Self {
            terminal: std::io::stdin().is_terminal(),
            lines: std::io::stdin().lock().lines(),
        }
    }

    fn line(&mut self, prompt: &str) -> anyhow::Result<String> {
        if self.terminal {
            eprint!("{prompt}");
            std::io::stderr().flush()?;
        }
        match self.lines.next() {
            Some(line) => Ok(line?.trim_end_matches('\r').to_owned()),
            None => bail!("no answer to {:?} (stdin ended)", prompt.trim_end()),
        }
    }

    fn password(&mut self, prompt: &str) -> anyhow::Result<String> {
        if self.terminal {
            Ok(rpassword::prompt_password(prompt)?)
        } else {
            self.line(prompt)
        }
    }

    /// A new password, asked twice.
    fn new_password(&mut self) -> anyhow::Result<String> {
        let first = self.password("Password: ")?;
        let again = self.password("Password (again): ")?;
        if first != again {
            bail!("the two passwords differ; nothing changed");
        }
        Ok(first)
    }
}

fn unavailable(e: AccountsError) -> anyhow::Error {
    anyhow::Error::new(e).context("the accounts store")
}

/// Refuses a password that breaks a rule, naming every rule; the password itself is never
/// in the message.
fn checked(password: &str, min_length: usize, names: &[&str]) -> anyhow::Result<String> {
    let refused = password::check(password, min_length, names);
    if !refused.is_empty() {
        let rules: Vec<String> = refused.iter().map(ToString::to_string).collect();
        bail!("the password is refused: {}", rules.join(" "));
    }
    Ok(password::hash(password))
}

pub(crate) struct Commands<'a> {
    pub state: &'a crate::State,
    pub store: &'a dyn AccountStore,
    pub min_password_length: usize,
    /// The environment, as a function so that tests can give their own.
    pub var: fn(&str) -> Option<String>,
}

impl Commands<'_> {
    pub fn run(
        &self,
        name: &str,
        args: &ArgMatches,
        ctx: &CommandContext<'_>,
    ) -> anyhow::Result<()> {
        match name {
            "createsuperuser" => self.createsuperuser(
                args.get_flag("no-input"),
                args.get_flag("update-password"),
                ctx,
            ),
            "changepassword" => {
                let user = args
                    .get_one::<String>("username")
                    .map_or("", String::as_str);
                self.changepassword(user, ctx)
            }
            "users" => self.users(args.get_flag("superusers"), ctx),
            "clearsessions" => {
                ctx.wait_until_ready()?;
                let (sessions, attempts) =
                    self.state.purge(chrono::Utc::now()).map_err(unavailable)?;
                println!("dropped {sessions} session(s) and {attempts} login attempt(s)");
                Ok(())
            }
            other => bail!("the accounts component has no command {other}"),
        }
    }

    fn env(&self, name: &str) -> Option<String> {
        (self.var)(name).filter(|v| !v.is_empty())
    }

    /// Django's `createsuperuser`, made safe to run on every deploy: a user that exists is
    /// left as it is (exit 0), unless `--update-password` asks to set its password.
    pub fn createsuperuser(
        &self,
        no_input: bool,
        update_password: bool,
        ctx: &CommandContext<'_>,
    ) -> anyhow::Result<()> {
        // Interactive, it asks; with --no-input it reads the environment, as Django does.
        let mut ask = (!no_input).then(Prompter::new);
        let username = match &mut ask {
            Some(p) => p.line("Username: ")?,
            None => self
                .env(USERNAME_VAR)
                .with_context(|| format!("--no-input needs {USERNAME_VAR} (and {PASSWORD_VAR})"))?,
        };
        let username = Username::parse(&username)?;
        ctx.wait_until_ready()?;
        if let Some(user) = self.store.find(username.as_str()).map_err(unavailable)? {
            if !(user.flags.is_superuser && user.flags.is_active) {
                bail!(
                    "a user named {} exists but is not an active superuser; nothing changed (pick another name, or change that user's rights in the admin)",
                    user.username.as_str()
                );
            }
            if !update_password {
                tracing::info!(user = user.id.0, "superuser exists; nothing changed");
                println!(
                    "a user named {} exists already; nothing changed (--update-password sets its password)",
                    user.username.as_str()
                );
                return Ok(());
            }
            let password = self.new_password(&mut ask, "update the password")?;
            let names: Vec<&str> = std::iter::once(user.username.as_str())
                .chain(user.email.as_ref().map(Email::as_str))
                .collect();
            let hash = checked(&password, self.min_password_length, &names)?;
            self.store
                .set_password(user.id, &hash)
                .map_err(unavailable)?;
            self.state.history.record(&crate::admin::password_set(
                &user,
                &Actor::command("createsuperuser --update-password"),
            ));
            let ended = self
                .store
                .delete_sessions_of(user.id, None)
                .map_err(unavailable)?;
            tracing::info!(
                user = user.id.0,
                ended_sessions = ended,
                "superuser's password updated"
            );
            println!(
                "password of {} updated; {ended} session(s) ended",
                user.username.as_str()
            );
            return Ok(());
        }
        let email = match &mut ask {
            Some(p) => p.line("Email address: ")?,
            None => self.env(EMAIL_VAR).unwrap_or_default(),
        };
        let email = Email::parse_optional(&email)?;
        let password = self.new_password(&mut ask, &format!("create {}", username.as_str()))?;
        let names: Vec<&str> = std::iter::once(username.as_str())
            .chain(email.as_ref().map(Email::as_str))
            .collect();
        let hash = checked(&password, self.min_password_length, &names)?;
        let user = self
            .store
            .create(NewUser {
                username,
                email,
                password_hash: hash,
                flags: Flags {
                    is_active: true,
                    is_staff: true,
                    is_superuser: true,
                },
            })
            .map_err(|e| match e {
                AccountsError::Taken(name) => {
                    anyhow::anyhow!("a user named {name} was created meanwhile; nothing changed")
                }
                e => unavailable(e),
            })?;
        self.state.history.record(&crate::admin::added(
            &user,
            &Actor::command("createsuperuser"),
        ));
        tracing::info!(user = user.id.0, "superuser created");
        println!("superuser {} created", user.username.as_str());
        Ok(())
    }

    /// A new password: asked twice, or (with --no-input) from the environment.
    fn new_password(&self, ask: &mut Option<Prompter>, for_whom: &str) -> anyhow::Result<String> {
        match ask {
            Some(p) => p.new_password(),
            None => self
                .env(PASSWORD_VAR)
                .with_context(|| format!("--no-input needs {PASSWORD_VAR} to {for_whom}")),
        }
    }

    fn changepassword(&self, username: &str, ctx: &CommandContext<'_>) -> anyhow::Result<()> {
        ctx.wait_until_ready()?;
        let Some(user) = self.store.find(username).map_err(unavailable)? else {
            bail!("there is no user named {username}");
        };
        let password = Prompter::new().new_password()?;
        let names: Vec<&str> = std::iter::once(user.username.as_str())
            .chain(user.email.as_ref().map(Email::as_str))
            .collect();
        let hash = checked(&password, self.min_password_length, &names)?;
        self.store
            .set_password(user.id, &hash)
            .map_err(unavailable)?;
        self.state.history.record(&crate::admin::password_set(
            &user,
            &Actor::command("changepassword"),
        ));
        let ended = self
            .store
            .delete_sessions_of(user.id, None)
            .map_err(unavailable)?;
        println!(
            "password changed for {}; {ended} session(s) ended",
            user.username.as_str()
        );
        Ok(())
    }

    fn users(&self, superusers: bool, ctx: &CommandContext<'_>) -> anyhow::Result<()> {
        ctx.wait_until_ready()?;
        let users = self.store.list().map_err(unavailable)?;
        let mut out = std::io::stdout().lock();
        if superusers {
            for u in users
                .iter()
                .filter(|u| u.flags.is_superuser && u.flags.is_active)
            {
                writeln!(out, "{}", u.username.as_str())?;
            }
            return Ok(());
        }
        writeln!(
            out,
            "{:>5}  {:<20} {:<28} {:<6} {:<5} {:<9} {:<17} joined",
            "id", "username", "email", "active", "staff", "superuser", "last login"
        )?;
        let yes = |b: bool| if b { "yes" } else { "no" };
        for u in &users {
            writeln!(
                out,
                "{:>5}  {:<20} {:<28} {:<6} {:<5} {:<9} {:<17} {}",
                u.id.0,
                u.username.as_str(),
                u.email.as_ref().map_or("", Email::as_str),
                yes(u.flags.is_active),
                yes(u.flags.is_staff),
                yes(u.flags.is_superuser),
                u.last_login.map_or("never".to_owned(), |t| t
                    .format("%Y-%m-%d %H:%M")
                    .to_string()),
                u.date_joined.format("%Y-%m-%d %H:%M"),
            )?;
        }
        writeln!(out, "{} user(s)", users.len()).context("writing to stdout")?;
        Ok(())
    }
}
