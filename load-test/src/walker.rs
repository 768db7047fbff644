//! A simulated player's movement: plausible routes between POIs (or random
//! waypoints) at human, cycling or driving speed, with smooth GPS jitter.
//!
//! The walker is pure logic over a simulated clock (seconds since the start
//! of the run), so tests can simulate hours of walking in milliseconds.
//! Both the true motion and the jitter have bounded velocity, so the
//! reported track never looks faster than about 17 m/s whatever the time
//! between two fixes: a server's `too_fast` check never trips on it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::Mix;
use crate::geo::{LatLon, Region, normalize_deg};

/// How a player moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mobility {
    /// 1 to 2 m/s.
    Walk,
    /// About 5 m/s.
    Cycle,
    /// About 12 m/s.
    Drive,
}

impl Mobility {
    /// The range of cruise speeds in m/s.
    pub fn speed_range(self) -> (f64, f64) {
        match self {
            Mobility::Walk => (1.0, 2.0),
            Mobility::Cycle => (4.0, 6.0),
            Mobility::Drive => (9.0, 15.0),
        }
    }
}

/// The fastest any walker truly moves, in m/s.
pub const MAX_TRUE_SPEED_MPS: f64 = 15.0;

/// How many POIs a walker remembers; older ones are replaced.
const MAX_KNOWN_POIS: usize = 16;

/// How far (m) from a world POI a walker may start.
const START_NEAR_POI_M: f64 = 300.0;

/// A POI of the target world, from `--world`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldPoi {
    /// The POI id.
    pub id: String,
    /// Where it is.
    pub pos: LatLon,
}

/// A reported GPS fix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    /// Reported position (true position plus jitter).
    pub pos: LatLon,
    /// Heading in degrees clockwise from north.
    pub heading: f64,
    /// Speed in m/s.
    pub speed: f64,
    /// Claimed horizontal accuracy in m.
    pub accuracy: f64,
}

/// A POI the walker has seen in a `nearby` reply.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownPoi {
    /// The POI id.
    pub id: String,
    /// Where it is.
    pub pos: LatLon,
    /// When the walker last spun it (simulated seconds), if ever.
    pub spun_at: Option<f64>,
}

/// One term of the jitter: amplitude (m), angular frequency (rad/s), phase.
#[derive(Debug, Clone, Copy)]
struct Wave {
    amp: f64,
    omega: f64,
    phase: f64,
}

impl Wave {
    fn random(rng: &mut ChaCha8Rng, amp: (f64, f64), period_s: (f64, f64)) -> Wave {
        Wave {
            amp: rng.random_range(amp.0..amp.1),
            omega: std::f64::consts::TAU / rng.random_range(period_s.0..period_s.1),
            phase: rng.random_range(0.0..std::f64::consts::TAU),
        }
    }

    fn at(&self, t: f64) -> f64 {
        self.amp * (self.omega * t + self.phase).sin()
    }
}

/// One simulated player's movement.
#[derive(Debug)]
pub struct Walker {
    region: Region,
    mobility: Mobility,
    pos: LatLon,
    target: Option<(LatLon, Option<usize>)>,
    leg_speed: f64,
    dwell_left: f64,
    heading: f64,
    t: f64,
    jitter: [Wave; 4],
    accuracy: f64,
    last_poi: Option<String>,
    pois: Vec<KnownPoi>,
    rng: ChaCha8Rng,
}

impl Walker {
    /// A walker at a random point of `region`, its randomness drawn from
    /// stream `index` of `seed`.
    pub fn new(region: Region, mix: &Mix, seed: u64, index: u64) -> Walker {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index);
        let roll: f64 = rng.random();
        let mobility = if roll < mix.drive_share {
            Mobility::Drive
        } else if roll < mix.drive_share + mix.cycle_share {
            Mobility::Cycle
        } else {
            Mobility::Walk
        };
        let pos = region.point_from_unit(rng.random(), rng.random());
        // Slow and fast waves per axis: a few metres of error that drifts the
        // way real GPS error does, with a velocity of at most ~2.2 m/s.
        let jitter = [
            Wave::random(&mut rng, (1.0, 3.0), (30.0, 90.0)),
            Wave::random(&mut rng, (0.5, 1.5), (10.0, 30.0)),
            Wave::random(&mut rng, (1.0, 3.0), (30.0, 90.0)),
            Wave::random(&mut rng, (0.5, 1.5), (10.0, 30.0)),
        ];
        let accuracy = rng.random_range(4.0..12.0);
        let heading = rng.random_range(0.0..360.0);
        Walker {
            region,
            mobility,
            pos,
            target: None,
            leg_speed: 0.0,
            dwell_left: 0.0,
            heading,
            t: 0.0,
            jitter,
            accuracy,
            last_poi: None,
            pois: Vec::new(),
            rng,
        }
    }

    /// How this walker moves.
    pub fn mobility(&self) -> Mobility {
        self.mobility
    }

    /// The true (unjittered) position.
    pub fn true_pos(&self) -> LatLon {
        self.pos
    }

    /// The walker's random source, for choices tied to this player.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Simulated seconds since the start.
    pub fn time(&self) -> f64 {
        self.t
    }

    /// Starts the walker near one of the world's POIs instead of anywhere in
    /// the region (players gather where places are), and lets it know the
    /// POIs nearest to its start, as if it had looked at the map.
    pub fn start_in_world(&mut self, world: &[WorldPoi]) {
        if world.is_empty() || self.t > 0.0 {
            return;
        }
        let anchor = world[self.rng.random_range(0..world.len())].pos;
        let r = START_NEAR_POI_M * self.rng.random::<f64>().sqrt();
        self.pos = anchor.destination(self.rng.random_range(0.0..360.0), r);
        let mut by_distance: Vec<&WorldPoi> = world.iter().collect();
        let here = self.pos;
        by_distance.sort_by(|a, b| here.distance_m(a.pos).total_cmp(&here.distance_m(b.pos)));
        for poi in by_distance.into_iter().take(MAX_KNOWN_POIS) {
            self.learn_poi(&poi.id, poi.pos);
        }
    }

    /// Heads for a creature seen at `pos`, as players do, unless driving,
    /// lingering at a place, or already on the way to something closer.
    pub fn chase(&mut self, pos: LatLon) {
        if self.mobility == Mobility::Drive || self.dwell_left > 0.0 {
            return;
        }
        let d = self.pos.distance_m(pos);
        if let Some((target, _)) = self.target
            && self.pos.distance_m(target) <= d
        {
            return;
        }
        if self.target.is_none() {
            let (lo, hi) = self.mobility.speed_range();
            self.leg_speed = self.rng.random_range(lo..hi);
        }
        self.target = Some((pos, None));
    }

    /// Remembers a POI from a `nearby` reply (ignored when far outside the
    /// region, so walkers do not wander off the map).
    pub fn learn_poi(&mut self, id: &str, pos: LatLon) {
        if self.pois.iter().any(|p| p.id == id) || !self.region.contains(pos, 200.0) {
            return;
        }
        let poi = KnownPoi {
            id: id.to_owned(),
            pos,
            spun_at: None,
        };
        if self.pois.len() < MAX_KNOWN_POIS {
            self.pois.push(poi);
        } else {
            let i = self.rng.random_range(0..self.pois.len());
            // Never drop the POI the walker is heading to.
            if !matches!(self.target, Some((_, Some(t))) if t == i) {
                self.pois[i] = poi;
            }
        }
    }

    /// The known POIs.
    pub fn pois(&self) -> &[KnownPoi] {
        &self.pois
    }

    /// The nearest known POI within `range_m` of the true position that was
    /// not spun in the last `cooldown_s` seconds.
    pub fn spinnable_poi(&self, range_m: f64, cooldown_s: f64) -> Option<usize> {
        self.pois
            .iter()
            .enumerate()
            .filter(|(_, p)| p.spun_at.is_none_or(|at| self.t - at >= cooldown_s))
            .map(|(i, p)| (i, self.pos.distance_m(p.pos)))
            .filter(|&(_, d)| d <= range_m)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }

    /// Marks POI `i` as spun now.
    pub fn mark_spun(&mut self, i: usize) {
        let t = self.t;
        if let Some(p) = self.pois.get_mut(i) {
            p.spun_at = Some(t);
        }
    }

    /// Moves along the route up to simulated time `t` (seconds since start).
    /// Going back in time does nothing.
    pub fn advance_to(&mut self, t: f64) {
        let mut dt = t - self.t;
        if dt <= 0.0 {
            return;
        }
        self.t = t;
        // Bounded loop: each pass either finishes `dt`, ends a dwell or
        // reaches a waypoint; a run of zero-length legs cannot spin forever.
        for _ in 0..64 {
            if dt <= 0.0 {
                return;
            }
            if self.dwell_left > 0.0 {
                let used = dt.min(self.dwell_left);
                self.dwell_left -= used;
                dt -= used;
                continue;
            }
            let (target, poi) = match self.target {
                Some(t) => t,
                None => self.pick_target(),
            };
            let dist = self.pos.distance_m(target);
            let step = self.leg_speed * dt;
            if step < dist {
                self.heading = self.pos.bearing_deg(target);
                self.pos = self.pos.destination(self.heading, step);
                return;
            }
            dt -= dist / self.leg_speed;
            self.pos = target;
            self.target = None;
            self.dwell_left = self.arrival_dwell(poi);
        }
    }

    fn pick_target(&mut self) -> (LatLon, Option<usize>) {
        let candidates = self.pois.len();
        let visit_poi =
            self.mobility != Mobility::Drive && candidates > 0 && self.rng.random::<f64>() < 0.75;
        let mut chosen = None;
        if visit_poi {
            let i = self.rng.random_range(0..candidates);
            if self.last_poi.as_deref() != Some(self.pois[i].id.as_str()) {
                chosen = Some((self.pois[i].pos, Some(i)));
            }
        }
        let (target, poi) = chosen.unwrap_or_else(|| {
            let p = self
                .region
                .point_from_unit(self.rng.random(), self.rng.random());
            (p, None)
        });
        let (lo, hi) = self.mobility.speed_range();
        self.leg_speed = self.rng.random_range(lo..hi);
        self.target = Some((target, poi));
        (target, poi)
    }

    fn arrival_dwell(&mut self, poi: Option<usize>) -> f64 {
        match poi {
            Some(i) => {
                self.last_poi = self.pois.get(i).map(|p| p.id.clone());
                // People linger at a place to spin it and catch around it.
                self.rng.random_range(10.0..60.0)
            }
            // Traffic lights and street corners.
            None if self.mobility == Mobility::Drive => self.rng.random_range(0.0..5.0),
            None => self.rng.random_range(0.0..3.0),
        }
    }

    /// The GPS fix the phone would report now.
    pub fn fix(&mut self) -> Fix {
        let t = self.t;
        let east = self.jitter[0].at(t) + self.jitter[1].at(t);
        let north = self.jitter[2].at(t) + self.jitter[3].at(t);
        let moving = self.dwell_left <= 0.0 && self.target.is_some();
        let (speed, heading) = if moving {
            let noise = self.rng.random_range(-0.05..0.05);
            (
                self.leg_speed * (1.0 + noise),
                normalize_deg(self.heading + self.rng.random_range(-5.0..5.0)),
            )
        } else {
            (self.rng.random_range(0.0..0.3), self.heading)
        };
        Fix {
            pos: self.pos.offset_m(east, north),
            heading,
            speed,
            accuracy: self.accuracy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix_all(drive: f64, cycle: f64) -> Mix {
        Mix {
            drive_share: drive,
            cycle_share: cycle,
            ..Mix::default()
        }
    }

    #[test]
    fn same_seed_walks_the_same_route() {
        let mut a = Walker::new(Region::DEMO, &Mix::default(), 9, 3);
        let mut b = Walker::new(Region::DEMO, &Mix::default(), 9, 3);
        let mut c = Walker::new(Region::DEMO, &Mix::default(), 9, 4);
        for s in 1..200 {
            a.advance_to(f64::from(s));
            b.advance_to(f64::from(s));
            c.advance_to(f64::from(s));
        }
        assert_eq!(a.fix(), b.fix());
        assert_ne!(a.true_pos(), c.true_pos());
    }

    #[test]
    fn mobility_follows_the_mix() {
        let n = 2000;
        let drivers = (0..n)
            .filter(|&i| {
                Walker::new(Region::DEMO, &mix_all(0.3, 0.0), 1, i).mobility() == Mobility::Drive
            })
            .count();
        assert!((500..700).contains(&drivers), "{drivers}");
    }

    /// Simulates many walkers for hours at irregular fix intervals (1 ms to
    /// 10 s) and checks the reported track's apparent speed, which is what
    /// a server's movement check sees.
    #[test]
    fn reported_tracks_never_look_faster_than_a_car() {
        let mut rng = ChaCha8Rng::seed_from_u64(77);
        let pois: Vec<LatLon> = (0..40)
            .map(|_| Region::DEMO.point_from_unit(rng.random(), rng.random()))
            .collect();
        let mut worst_mps: f64 = 0.0;
        let mut total_m = 0.0;
        for i in 0..60 {
            let mut w = Walker::new(Region::DEMO, &mix_all(0.3, 0.3), 5, i);
            let mut prev = (0.0, w.fix());
            let mut t = 0.0;
            while t < 4.0 * 3600.0 {
                t += if rng.random::<f64>() < 0.1 {
                    rng.random_range(0.001..0.05)
                } else {
                    rng.random_range(0.5..10.0)
                };
                w.advance_to(t);
                if rng.random::<f64>() < 0.05 {
                    let p = pois[rng.random_range(0..pois.len())];
                    w.learn_poi(&format!("poi-{}", p.lat), p);
                }
                let fix = w.fix();
                let d = prev.1.pos.distance_m(fix.pos);
                total_m += d;
                worst_mps = worst_mps.max(d / (t - prev.0));
                assert!(fix.speed <= MAX_TRUE_SPEED_MPS * 1.05);
                assert!((0.0..360.0).contains(&fix.heading));
                assert!(
                    w.region.contains(w.true_pos(), 250.0),
                    "walker left the region"
                );
                prev = (t, fix);
            }
        }
        // 60 walkers for 4 h at >= 1 m/s (minus dwells) cover far more than this.
        assert!(total_m > 60.0 * 3600.0, "walkers barely moved: {total_m} m");
        assert!(
            worst_mps < MAX_TRUE_SPEED_MPS + 2.5,
            "apparent speed {worst_mps} m/s"
        );
    }

    #[test]
    fn world_start_is_near_a_poi_and_knows_the_nearest_ones() {
        let world: Vec<WorldPoi> = (0..30)
            .map(|i| WorldPoi {
                id: format!("w{i}"),
                pos: Region::DEMO.center.destination(f64::from(i) * 12.0, 1000.0),
            })
            .collect();
        for i in 0..50 {
            let mut w = Walker::new(Region::DEMO, &Mix::default(), 2, i);
            w.start_in_world(&world);
            let nearest = world
                .iter()
                .map(|p| w.true_pos().distance_m(p.pos))
                .fold(f64::MAX, f64::min);
            assert!(nearest <= START_NEAR_POI_M + 1e-6, "{nearest}");
            assert_eq!(w.pois().len(), MAX_KNOWN_POIS);
            assert!(
                w.pois()
                    .iter()
                    .any(|p| w.true_pos().distance_m(p.pos) == nearest)
            );
        }
    }

    #[test]
    fn walkers_chase_creatures_but_drivers_do_not() {
        let mix = mix_all(0.5, 0.0);
        let (mut chasers, mut drivers) = (0, 0);
        for i in 0..40 {
            let mut w = Walker::new(Region::DEMO, &mix, 4, i);
            let creature = w.true_pos().destination(45.0, 60.0);
            w.chase(creature);
            let mut closest = f64::MAX;
            for step in 1..=140 {
                w.advance_to(f64::from(step) * 0.5);
                closest = closest.min(w.true_pos().distance_m(creature));
            }
            // 60 m at 1 to 2 m/s takes at most 60 s of the 70 simulated.
            if w.mobility() == Mobility::Drive {
                drivers += 1;
                assert!(closest > 1.5, "a driver went for the creature: {closest}");
            } else {
                chasers += 1;
                assert!(
                    closest < 1.5,
                    "a walker did not reach the creature: {closest}"
                );
            }
        }
        assert!(chasers > 5 && drivers > 5, "{chasers} {drivers}");
    }

    #[test]
    fn spinnable_poi_respects_range_and_cooldown() {
        let mut w = Walker::new(Region::DEMO, &Mix::default(), 1, 1);
        let here = w.true_pos();
        w.learn_poi("near", here.destination(90.0, 20.0));
        w.learn_poi("far", here.destination(90.0, 400.0));
        let i = w.spinnable_poi(40.0, 300.0).unwrap();
        assert_eq!(w.pois()[i].id, "near");
        w.mark_spun(i);
        assert_eq!(w.spinnable_poi(40.0, 300.0), None);
    }
}
