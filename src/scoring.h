/*-------------------------------------------------------------------------
 *
 * scoring.h
 *	  The value score's models as the writer uses them (src/scoring.c):
 *	  the global one from edgestat.score_weights, and a site's own fitted
 *	  by edgestat.train_score, both cached per process.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_SCORING_H
#define EDGESTAT_SCORING_H

#include "score.h"

extern void es_score_model(EsScoreModel *model);

/* The site's fitted weights when it has some, else the global model. */
extern void es_score_model_for_site(int32 site_id, EsScoreModel *model);

#endif							/* EDGESTAT_SCORING_H */
