//! A small test suite with the bad habits real suites have: one test
//! starts a helper and forgets it, one hangs waiting for output a helper
//! keeps from ending (only with LEAKY_HANG=1), one passes. Run it under
//! tinit to see the leak named and the hang explained.

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    #[test]
    fn leaks_a_helper() {
        // Started and never waited for: it outlives the test binary.
        Command::new("sleep")
            .arg("300")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start sleep");
    }

    #[test]
    fn hangs_on_output() {
        if std::env::var("LEAKY_HANG").as_deref() != Ok("1") {
            return;
        }
        // The backgrounded sleep keeps the pipe's write end: no EOF.
        let out = Command::new("sh")
            .args(["-c", "sleep 300 & echo started"])
            .output()
            .expect("run sh");
        println!("never reached: {:?}", out);
    }

    #[test]
    fn passes() {
        assert_eq!(2 + 2, 4);
    }
}
