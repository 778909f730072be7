//! Running a workflow's segment work in *waves*: consecutive steps of the
//! same kind touch different segments and do not depend on each other, so
//! they run at once and share the journal's group commits; the next kind
//! starts only when a whole wave is done. The model orders its work so
//! that this holds (every step of a kind before any that depends on it).
//! A transaction over eight segments thus costs a few journal round trips,
//! not dozens.

use std::future::Future;
use std::mem::discriminant;
use std::pin::Pin;
use std::task::Poll;

use super::logs::StepError;
use crate::controller::Work;

/// Splits `work` into runs of consecutive steps of the same kind.
pub fn waves(work: Vec<Work>) -> Vec<Vec<Work>> {
    let mut waves: Vec<Vec<Work>> = Vec::new();
    for step in work {
        match waves.last_mut() {
            Some(wave) if discriminant(&wave[0]) == discriminant(&step) => wave.push(step),
            _ => waves.push(vec![step]),
        }
    }
    waves
}

/// Runs `steps` concurrently on this core; the first error, once all are
/// done (none is left half-way: each step is idempotent and complete or
/// not started when it returns).
pub async fn all<F>(steps: Vec<F>) -> Result<(), StepError>
where
    F: Future<Output = Result<(), StepError>>,
{
    let mut pending: Vec<Option<Pin<Box<F>>>> =
        steps.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut first_error = None;
    futures_lite::future::poll_fn(|cx| {
        for slot in pending.iter_mut() {
            if let Some(step) = slot
                && let Poll::Ready(result) = step.as_mut().poll(cx)
            {
                *slot = None;
                if let Err(error) = result
                    && first_error.is_none()
                {
                    first_error = Some(error);
                }
            }
        }
        match pending.iter().all(Option::is_none) {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    })
    .await;
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_steps_of_a_kind_make_one_wave() {
        let work = vec![
            Work::CreateSegment(1),
            Work::CreateSegment(2),
            Work::SealSegment(0),
            Work::CreateSegment(3),
        ];
        let waves = waves(work);
        assert_eq!(
            waves,
            vec![
                vec![Work::CreateSegment(1), Work::CreateSegment(2)],
                vec![Work::SealSegment(0)],
                vec![Work::CreateSegment(3)],
            ]
        );
    }

    type Step = Pin<Box<dyn Future<Output = Result<(), StepError>>>>;

    #[test]
    fn all_waits_for_every_step_and_keeps_the_first_error() {
        let steps: Vec<Step> = vec![
            Box::pin(async { Ok(()) }),
            Box::pin(async { Err(StepError::Conflict) }),
            Box::pin(async { Err(StepError::Corrupt("second".into())) }),
        ];
        let result = futures_lite::future::block_on(all(steps));
        assert!(matches!(result, Err(StepError::Conflict)), "{result:?}");
        let none: Vec<Step> = Vec::new();
        assert!(futures_lite::future::block_on(all(none)).is_ok());
    }
}
